// Averages gradients across ranks the way PyTorch's DistributedDataParallel does, written over
// c10d collectives (DistributedGroup): parameters are grouped into buckets of about bucket_bytes
// (the first one 1 MiB at most) in reverse registration order (the order backward produces their gradients); a hook on each
// parameter's gradient accumulator marks it ready, and a bucket's all-reduce is launched as soon
// as its last gradient has accumulated, so communication overlaps the rest of the backward pass.
// Buckets launch strictly in index order, so every rank issues the same collectives in the same
// order. finish() waits for the rest and divides by the world size.
//
// Why not c10d::Reducer: it is an internal class of torch/csrc whose constructor changes between
// releases (fourteen arguments in 2.15), and its buckets cannot carry the block-aligned shards
// an 8-bit optimizer needs; the part we need is this file.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "train/distributed_group.h"

namespace ternary {

class GradientAllReducer {
 public:
  GradientAllReducer(const std::vector<at::Tensor>& parameters, DistributedGroup& group, int64_t bucket_bytes);
  ~GradientAllReducer();
  GradientAllReducer(const GradientAllReducer&) = delete;
  GradientAllReducer& operator=(const GradientAllReducer&) = delete;

  // The next backward is the last micro-batch of a step: its accumulated gradients are reduced.
  // (Earlier micro-batches only accumulate, as DDP's no_sync.)
  void arm();
  // After that backward: launches what is left (parameters that got no gradient count as zero),
  // waits for every bucket and leaves each .grad as the mean over ranks.
  void finish();

  size_t bucket_count() const;
  int64_t bytes_per_step() const;       // bytes each rank all-reduces per optimizer step
  // How long the last finish() waited for its all-reduces: communication not hidden under
  // backward, plus any lag of the slowest rank's backward.
  double last_wait_seconds() const;
  // Runs every bucket's all-reduce once, one after another and blocking, outside any step (a
  // collective: every rank calls it): the step's communication time when nothing overlaps it.
  // Leaves .grad untouched.
  double time_blocking_all_reduce();

 private:
  struct State;
  std::shared_ptr<State> state_;  // the hooks hold it weakly: a destroyed reducer's hooks do nothing
};

}  // namespace ternary
