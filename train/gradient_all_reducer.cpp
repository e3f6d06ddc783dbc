#include "train/gradient_all_reducer.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
#include <chrono>
#include <optional>

namespace ternary {

struct GradientAllReducer::State {
  struct Bucket {
    std::vector<size_t> members;  // parameter indices, in the order their gradients arrive
    at::Tensor flat;              // the bucket's gradients, flattened one after another
    std::vector<int64_t> offsets;
    size_t ready = 0;
    std::optional<DistributedGroup::Pending> pending;
  };

  DistributedGroup* group = nullptr;
  std::vector<at::Tensor> parameters;
  std::vector<size_t> bucket_of, slot_of;  // per parameter: its bucket and its place in it
  std::vector<bool> ready;
  std::vector<Bucket> buckets;
  std::vector<c10::intrusive_ptr<torch::autograd::Node>> accumulators;  // alive, so their hooks stay
  size_t next_launch = 0;
  bool armed = false;
  double last_wait_seconds = 0;

  void copy_in(size_t index) {
    Bucket& bucket = buckets[bucket_of[index]];
    const at::Tensor& grad = parameters[index].grad();
    at::Tensor slot = bucket.flat.narrow(0, bucket.offsets[slot_of[index]], parameters[index].numel());
    if (grad.defined()) slot.copy_(grad.reshape(-1));
    else slot.zero_();
  }

  void launch_in_order() {
    while (next_launch < buckets.size() && buckets[next_launch].ready == buckets[next_launch].members.size()) {
      Bucket& bucket = buckets[next_launch];
      bucket.pending.emplace(group->all_reduce_sum_async(bucket.flat, "the gradient all-reduce"));
      ++next_launch;
    }
  }

  void on_gradient_ready(size_t index) {
    if (!armed || ready[index]) return;
    ready[index] = true;
    copy_in(index);
    ++buckets[bucket_of[index]].ready;
    launch_in_order();
  }
};

GradientAllReducer::GradientAllReducer(const std::vector<at::Tensor>& parameters, DistributedGroup& group,
                                       int64_t bucket_bytes)
    : state_(std::make_shared<State>()) {
  State& s = *state_;
  s.group = &group;
  s.parameters = parameters;
  s.bucket_of.resize(parameters.size());
  s.slot_of.resize(parameters.size());
  s.ready.assign(parameters.size(), false);
  // Reverse order: backward reaches the last layers first. A bucket holds one dtype and device.
  // The first bucket is capped at 1 MiB, as DDP's first_bucket_bytes_cap, so communication starts
  // early in backward rather than after the first 25 MB of gradients.
  constexpr int64_t kFirstBucketBytes = 1 << 20;
  int64_t bucket_size = 0;
  for (size_t k = parameters.size(); k-- > 0;) {
    const at::Tensor& p = parameters[k];
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    const int64_t cap = s.buckets.size() == 1 ? std::min(bucket_bytes, kFirstBucketBytes) : bucket_bytes;
    const bool fits = !s.buckets.empty() && bucket_size + bytes <= cap &&
                      s.parameters[s.buckets.back().members.front()].dtype() == p.dtype() &&
                      s.parameters[s.buckets.back().members.front()].device() == p.device();
    if (!fits) {
      s.buckets.emplace_back();
      bucket_size = 0;
    }
    State::Bucket& bucket = s.buckets.back();
    s.bucket_of[k] = s.buckets.size() - 1;
    s.slot_of[k] = bucket.members.size();
    bucket.offsets.push_back(bucket.offsets.empty() ? 0 : bucket.offsets.back() +
                                                              s.parameters[bucket.members.back()].numel());
    bucket.members.push_back(k);
    bucket_size += bytes;
  }
  for (auto& bucket : s.buckets) {
    const at::Tensor& first = s.parameters[bucket.members.front()];
    const int64_t numel = bucket.offsets.back() + s.parameters[bucket.members.back()].numel();
    bucket.flat = at::zeros({numel}, first.options());
  }
  const std::weak_ptr<State> weak = state_;
  for (size_t k = 0; k < parameters.size(); ++k) {
    if (!parameters[k].requires_grad()) continue;
    c10::intrusive_ptr<torch::autograd::Node> accumulator = torch::autograd::impl::grad_accumulator(parameters[k]);
    accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [weak, k](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          if (const auto state = weak.lock()) state->on_gradient_ready(k);
          return outputs;
        }));
    s.accumulators.push_back(std::move(accumulator));
  }
}

GradientAllReducer::~GradientAllReducer() = default;

void GradientAllReducer::arm() {
  State& s = *state_;
  s.armed = true;
  s.next_launch = 0;
  std::fill(s.ready.begin(), s.ready.end(), false);
  for (auto& bucket : s.buckets) {
    bucket.ready = 0;
    bucket.pending.reset();
  }
}

void GradientAllReducer::finish() {
  State& s = *state_;
  const auto start = std::chrono::steady_clock::now();
  for (size_t k = 0; k < s.parameters.size(); ++k)  // no gradient this step: zero, as DDP's unused parameters
    if (!s.ready[k]) {
      s.ready[k] = true;
      s.copy_in(k);
      ++s.buckets[s.bucket_of[k]].ready;
    }
  s.launch_in_order();
  s.armed = false;
  const double scale = 1.0 / s.group->world_size();
  for (auto& bucket : s.buckets) bucket.pending->wait();
  s.last_wait_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (auto& bucket : s.buckets) {
    bucket.pending.reset();
    bucket.flat.mul_(scale);
    for (size_t slot = 0; slot < bucket.members.size(); ++slot) {
      at::Tensor& p = s.parameters[bucket.members[slot]];
      const at::Tensor mean = bucket.flat.narrow(0, bucket.offsets[slot], p.numel()).view(p.sizes());
      if (p.grad().defined()) p.mutable_grad().copy_(mean);
      else p.mutable_grad() = mean.clone();
    }
  }
}

size_t GradientAllReducer::bucket_count() const { return state_->buckets.size(); }

int64_t GradientAllReducer::bytes_per_step() const {
  int64_t bytes = 0;
  for (const auto& bucket : state_->buckets) bytes += bucket.flat.numel() * static_cast<int64_t>(bucket.flat.element_size());
  return bytes;
}

double GradientAllReducer::last_wait_seconds() const { return state_->last_wait_seconds; }

double GradientAllReducer::time_blocking_all_reduce() {
  const auto start = std::chrono::steady_clock::now();
  for (auto& bucket : state_->buckets) state_->group->all_reduce_sum(bucket.flat, "the all-reduce timing");
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace ternary
