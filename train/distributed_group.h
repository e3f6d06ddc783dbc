// The ranks of a multi-process run and the collectives training needs, on LibTorch's own c10d:
// TCPStore for the rendezvous (rank 0 hosts it at MASTER_ADDR:MASTER_PORT) and ProcessGroupGloo
// for CPU tensors. c10d's headers stay inside the .cpp. Every failure, at the rendezvous or in a
// collective (a rank died, a timeout), is a DistributedError naming the rank, the operation and
// what to check; nothing waits longer than distributed.timeout_seconds.
#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "train/launch_environment.h"

namespace ternary {

class DistributedGroup {
 public:
  // A collective in flight; wait() returns when it is done (or throws DistributedError).
  class Pending {
   public:
    explicit Pending(std::function<void()> wait) : wait_(std::move(wait)) {}
    void wait() { wait_(); }

   private:
    std::function<void()> wait_;
  };

  // Joins the rendezvous and connects every rank. Errors name the variable to fix: MASTER_PORT
  // in use, MASTER_ADDR unreachable, WORLD_SIZE differing between ranks, ranks missing after
  // `timeout`. `job` identifies what the ranks run together (ternary-train: its config without
  // paths); a rank whose `job` differs from rank 0's is refused, so ranks started with other
  // configs, or another job's ranks on the same port, never train together.
  static std::unique_ptr<DistributedGroup> connect(const LaunchEnvironment& environment, std::chrono::seconds timeout,
                                                   const std::string& job = "");
  ~DistributedGroup();

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  bool is_main() const { return rank_ == 0; }

  Pending all_reduce_sum_async(at::Tensor& tensor, const std::string& what);
  // `input` holds world_size equal chunks; rank r's `output` becomes the sum over ranks of chunk r.
  Pending reduce_scatter_sum_async(at::Tensor& output, at::Tensor& input, const std::string& what);
  // `output` becomes every rank's `input`, in rank order.
  Pending all_gather_async(at::Tensor& output, at::Tensor& input, const std::string& what);
  void all_reduce_sum(at::Tensor& tensor, const std::string& what);
  void all_reduce_max(at::Tensor& tensor, const std::string& what);
  void broadcast(std::vector<at::Tensor>& tensors, int root, const std::string& what);
  void barrier(const std::string& what);

 private:
  struct Impl;
  DistributedGroup(std::unique_ptr<Impl> impl, int rank, int world_size);
  std::unique_ptr<Impl> impl_;
  int rank_, world_size_;
};

}  // namespace ternary
