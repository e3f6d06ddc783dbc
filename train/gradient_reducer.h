// Averages gradients across ranks the way PyTorch's DistributedDataParallel does, written over
// c10d collectives (DistributedGroup): parameters are grouped into buckets of about bucket_bytes
// (the first one 1 MiB at most) in reverse registration order (the order backward produces their
// gradients); a hook on each parameter's gradient accumulator marks it ready, and a bucket's
// collective is launched as soon as its last gradient has accumulated, so communication overlaps
// the rest of the backward pass. Buckets launch strictly in index order, so every rank issues the
// same collectives in the same order.
//
// Two modes:
// - kAllReduce: every rank ends with every parameter's mean gradient in .grad.
// - kReduceScatter (ZeRO stage 1, optimizer.shard_state): each tensor starts at a 256-element
//   block boundary of its bucket and each rank owns one block-aligned 1/N chunk of every bucket;
//   a rank receives only its chunk's mean gradients, steps only its pieces of the parameters
//   (own_pieces: views of the parameters' data), then all_gather_parameters() gives every rank
//   every piece. Because pieces start on block boundaries of their tensor, a blockwise 8-bit
//   optimizer's codes on a piece are exactly those of the whole tensor.
//
// Why not c10d::Reducer: it is an internal class of torch/csrc whose constructor changes between
// releases (fourteen arguments in 2.15), and its buckets cannot carry block-aligned shards.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/blockwise_update.h"
#include "train/distributed_group.h"

namespace ternary {

class GradientReducer {
 public:
  enum class Mode { kAllReduce, kReduceScatter };
  static constexpr int64_t kShardAlignment = kernels::kStateBlockSize;  // the 8-bit optimizers' block size

  // A block-aligned range of one parameter, owned by this rank (kReduceScatter).
  struct Piece {
    size_t parameter = 0;  // index into the constructor's parameters
    int64_t offset = 0;    // elements into the flattened parameter; a multiple of kShardAlignment
    int64_t length = 0;
    at::Tensor values;     // a view of the parameter's data: what the optimizer steps
  };

  GradientReducer(const std::vector<at::Tensor>& parameters, DistributedGroup& group, int64_t bucket_bytes,
                  Mode mode = Mode::kAllReduce);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // The next backward is the last micro-batch of a step: its accumulated gradients are reduced.
  // (Earlier micro-batches only accumulate, as DDP's no_sync.)
  void arm();
  // After that backward: launches what is left (parameters that got no gradient count as zero)
  // and waits. kAllReduce: each .grad becomes the mean over ranks. kReduceScatter: each own
  // piece's .grad becomes its mean over ranks (a view into this rank's chunk).
  void finish();

  // kReduceScatter: this rank's pieces, in layout order (empty in kAllReduce).
  const std::vector<Piece>& own_pieces() const;
  // kReduceScatter, after finish(): Σ g² over this rank's chunk (reduce it for the global norm),
  // and scaling of the chunk (clipping).
  double own_squared_gradient_norm() const;
  void scale_own_gradients(double factor);
  // kReduceScatter, after the optimizer stepped the own pieces: every rank's pieces into every
  // parameter (one all-gather per bucket).
  void all_gather_parameters();

  size_t bucket_count() const;
  int64_t bytes_per_step() const;  // bytes each rank sends into the gradient collectives per step
  // How long the last finish() waited for its collectives: communication not hidden under
  // backward, plus any lag of the slowest rank's backward.
  double last_wait_seconds() const;
  // Runs every bucket's collective once, one after another and blocking, between steps (every
  // rank calls it): the step's communication time when nothing overlaps it. The reduction buffers
  // (and so kReduceScatter's piece gradients) hold garbage afterwards; the next step refills them.
  double time_blocking_collectives();

 private:
  struct State;
  std::shared_ptr<State> state_;  // the hooks hold it weakly: a destroyed reducer's hooks do nothing
};

}  // namespace ternary
