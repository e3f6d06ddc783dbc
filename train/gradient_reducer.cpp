#include "train/gradient_reducer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "train/gradient_ready_hooks.h"

namespace ternary {
namespace {

int64_t round_up(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }

}  // namespace

struct GradientReducer::State {
  struct Bucket {
    std::vector<size_t> members;  // parameter indices, in the order their gradients arrive
    std::vector<int64_t> offsets; // where each member starts in `flat`
    at::Tensor flat;              // the bucket's gradients, one tensor after another (padded when sharded)
    at::Tensor chunk;             // kReduceScatter: this rank's reduced share of `flat`
    at::Tensor own_values;        // kReduceScatter: this rank's pieces' values, sent to the all-gather
    size_t ready = 0;
    std::optional<DistributedGroup::Pending> pending;
  };

  DistributedGroup* group = nullptr;
  Mode mode = Mode::kAllReduce;
  std::vector<at::Tensor> parameters;
  std::vector<size_t> bucket_of, slot_of;  // per parameter: its bucket and its place in it
  std::vector<bool> ready;
  std::vector<Bucket> buckets;
  std::vector<Piece> pieces;                  // kReduceScatter: this rank's
  std::vector<size_t> piece_bucket;           // the bucket of each piece
  std::vector<int64_t> piece_chunk_offset;    // where each piece starts in its bucket's chunk
  std::unique_ptr<GradientReadyHooks> hooks;
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

  DistributedGroup::Pending launch(Bucket& bucket, const char* what) {
    if (mode == Mode::kAllReduce) return group->all_reduce_sum_async(bucket.flat, what);
    return group->reduce_scatter_sum_async(bucket.chunk, bucket.flat, what);
  }

  void launch_in_order() {
    while (next_launch < buckets.size() && buckets[next_launch].ready == buckets[next_launch].members.size()) {
      Bucket& bucket = buckets[next_launch];
      bucket.pending.emplace(launch(bucket, "the gradient reduction"));
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

  // kReduceScatter: the pieces of this rank's chunk of every bucket.
  void assign_pieces() {
    const int64_t rank = group->rank();
    for (size_t b = 0; b < buckets.size(); ++b) {
      const Bucket& bucket = buckets[b];
      const int64_t chunk = bucket.chunk.numel(), begin = rank * chunk, end = begin + chunk;
      for (size_t slot = 0; slot < bucket.members.size(); ++slot) {
        const at::Tensor& p = parameters[bucket.members[slot]];
        const int64_t lo = std::max(begin, bucket.offsets[slot]), hi = std::min(end, bucket.offsets[slot] + p.numel());
        if (lo >= hi) continue;
        Piece piece;
        piece.parameter = bucket.members[slot];
        piece.offset = lo - bucket.offsets[slot];
        piece.length = hi - lo;
        piece.values = p.detach().view(-1).narrow(0, piece.offset, piece.length);
        pieces.push_back(std::move(piece));
        piece_bucket.push_back(b);
        piece_chunk_offset.push_back(lo - begin);
      }
    }
  }
};

GradientReducer::GradientReducer(const std::vector<at::Tensor>& parameters, DistributedGroup& group,
                                 int64_t bucket_bytes, Mode mode)
    : state_(std::make_shared<State>()) {
  State& s = *state_;
  s.group = &group;
  s.mode = mode;
  s.parameters = parameters;
  s.bucket_of.resize(parameters.size());
  s.slot_of.resize(parameters.size());
  s.ready.assign(parameters.size(), false);
  const bool sharded = mode == Mode::kReduceScatter;
  const int64_t align = sharded ? kShardAlignment : 1;
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
    bucket.offsets.push_back(bucket.offsets.empty() ? 0 : round_up(bucket.offsets.back() +
                                                                       s.parameters[bucket.members.back()].numel(),
                                                                   align));
    bucket.members.push_back(k);
    bucket_size += bytes;
  }
  for (auto& bucket : s.buckets) {
    const at::Tensor& first = s.parameters[bucket.members.front()];
    int64_t numel = bucket.offsets.back() + s.parameters[bucket.members.back()].numel();
    if (sharded) numel = round_up(numel, align * group.world_size());  // equal block-aligned chunks
    bucket.flat = at::zeros({numel}, first.options());
    if (sharded) {
      bucket.chunk = at::zeros({numel / group.world_size()}, first.options());
      bucket.own_values = at::zeros_like(bucket.chunk);  // padding stays zero
    }
  }
  if (sharded) s.assign_pieces();
  const std::weak_ptr<State> weak = state_;
  s.hooks = std::make_unique<GradientReadyHooks>(parameters, [weak](size_t k) {
    if (const auto state = weak.lock()) state->on_gradient_ready(k);
  });
}

GradientReducer::~GradientReducer() = default;

void GradientReducer::arm() {
  State& s = *state_;
  s.armed = true;
  s.next_launch = 0;
  std::fill(s.ready.begin(), s.ready.end(), false);
  for (auto& bucket : s.buckets) {
    bucket.ready = 0;
    bucket.pending.reset();
  }
}

void GradientReducer::finish() {
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
  for (auto& bucket : s.buckets) bucket.pending->wait();
  s.last_wait_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double scale = 1.0 / s.group->world_size();
  if (s.mode == Mode::kReduceScatter) {
    for (auto& bucket : s.buckets) {
      bucket.pending.reset();
      bucket.chunk.mul_(scale);
    }
    for (size_t i = 0; i < s.pieces.size(); ++i)
      s.pieces[i].values.mutable_grad() =
          s.buckets[s.piece_bucket[i]].chunk.narrow(0, s.piece_chunk_offset[i], s.pieces[i].length);
    return;
  }
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

const std::vector<GradientReducer::Piece>& GradientReducer::own_pieces() const { return state_->pieces; }

double GradientReducer::own_squared_gradient_norm() const {
  double sum = 0;  // padding between tensors is zero
  for (const auto& bucket : state_->buckets) sum += bucket.chunk.to(at::kDouble).square().sum().item<double>();
  return sum;
}

void GradientReducer::scale_own_gradients(double factor) {
  for (auto& bucket : state_->buckets) bucket.chunk.mul_(factor);
}

void GradientReducer::all_gather_parameters() {
  State& s = *state_;
  // This rank's pieces into its chunk, then everyone's chunks into each bucket's flat buffer.
  for (size_t i = 0; i < s.pieces.size(); ++i)
    s.buckets[s.piece_bucket[i]].own_values.narrow(0, s.piece_chunk_offset[i], s.pieces[i].length)
        .copy_(s.pieces[i].values);
  std::vector<DistributedGroup::Pending> pending;
  for (auto& bucket : s.buckets)
    pending.push_back(s.group->all_gather_async(bucket.flat, bucket.own_values, "the parameter all-gather"));
  at::NoGradGuard no_grad;
  for (size_t b = 0; b < s.buckets.size(); ++b) {
    pending[b].wait();
    const State::Bucket& bucket = s.buckets[b];
    for (size_t slot = 0; slot < bucket.members.size(); ++slot) {
      at::Tensor& p = s.parameters[bucket.members[slot]];
      p.detach().view(-1).copy_(bucket.flat.narrow(0, bucket.offsets[slot], p.numel()));
    }
  }
}

size_t GradientReducer::bucket_count() const { return state_->buckets.size(); }

int64_t GradientReducer::bytes_per_step() const {
  int64_t bytes = 0;
  for (const auto& bucket : state_->buckets) bytes += bucket.flat.numel() * static_cast<int64_t>(bucket.flat.element_size());
  return bytes;
}

double GradientReducer::last_wait_seconds() const { return state_->last_wait_seconds; }

double GradientReducer::time_blocking_collectives() {
  const auto start = std::chrono::steady_clock::now();
  for (auto& bucket : state_->buckets) state_->launch(bucket, "the collective timing").wait();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace ternary
