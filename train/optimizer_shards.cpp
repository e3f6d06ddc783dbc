#include "train/optimizer_shards.h"

#include <ATen/ATen.h>
#include <torch/serialize/archive.h>

#include <algorithm>
#include <stdexcept>

#include "kernels/blockwise_update.h"
#include "train/checkpoint.h"

namespace ternary {
namespace {

using kernels::state_blocks;

[[noreturn]] void fail(const std::string& message) { throw CheckpointError(message); }

const Blockwise8bitParamState* state_of(const Blockwise8bitOptimizer& optimizer, const at::Tensor& values) {
  const auto& states = optimizer.state();
  const auto found = states.find(values.unsafeGetTensorImpl());
  return found == states.end() ? nullptr : static_cast<const Blockwise8bitParamState*>(found->second.get());
}

// The state's tensors flattened (fp32 states have the parameter's shape).
Blockwise8bitParamState flattened(const Blockwise8bitParamState& s) {
  Blockwise8bitParamState flat;
  auto f = [](const at::Tensor& t) { return t.defined() ? t.reshape(-1) : t; };
  flat.step(s.step()).state1(f(s.state1())).absmax1(s.absmax1()).state2(f(s.state2())).absmax2(s.absmax2());
  return flat;
}

// Copies elements [a, b) of the flattened parameter from `from` (a state of the range starting at
// `from_offset`) into `to` (the range starting at `to_offset`); a and both offsets are multiples of
// the block size, so whole blocks move (the last may be the parameter's partial one).
void copy_span(const at::Tensor& from_values, const at::Tensor& from_absmax, int64_t from_offset, at::Tensor& to_values,
               at::Tensor& to_absmax, int64_t to_offset, int64_t a, int64_t b) {
  to_values.narrow(0, a - to_offset, b - a).copy_(from_values.narrow(0, a - from_offset, b - a));
  if (!from_absmax.defined()) return;
  const int64_t block = kernels::kStateBlockSize;
  to_absmax.narrow(0, (a - to_offset) / block, state_blocks(b - a))
      .copy_(from_absmax.narrow(0, (a - from_offset) / block, state_blocks(b - a)));
}

}  // namespace

std::string optimizer_shard_file(int rank, int world_size) {
  return "optimizer_shard_" + std::to_string(rank) + "_of_" + std::to_string(world_size) + ".pt";
}

bool is_optimizer_shard_file(const std::string& name) {
  return name.rfind("optimizer_shard_", 0) == 0 && name.size() > 3 && name.compare(name.size() - 3, 3, ".pt") == 0;
}

void save_range_states(torch::serialize::OutputArchive& archive, const Blockwise8bitOptimizer& optimizer,
                       const std::vector<StateRange>& ranges) {
  int64_t count = 0;
  for (const auto& range : ranges) {
    const Blockwise8bitParamState* s = state_of(optimizer, range.values);
    if (!s) continue;
    const Blockwise8bitParamState flat = flattened(*s);
    torch::serialize::OutputArchive entry;
    entry.write("name", c10::IValue(range.name));
    entry.write("offset", c10::IValue(range.offset));
    entry.write("length", c10::IValue(range.values.numel()));
    entry.write("step", c10::IValue(flat.step()));
    const at::Tensor none = at::empty({0});
    entry.write("state1", flat.state1().cpu());
    entry.write("absmax1", flat.absmax1().defined() ? flat.absmax1().cpu() : none);
    entry.write("state2", flat.state2().defined() ? flat.state2().cpu() : none);
    entry.write("absmax2", flat.absmax2().defined() ? flat.absmax2().cpu() : none);
    entry.write("states", c10::IValue(static_cast<int64_t>(flat.state2().defined() ? 2 : 1)));
    archive.write("range" + std::to_string(count++), entry);
  }
  archive.write("ranges", c10::IValue(count));
}

std::vector<SavedRange> read_range_states(torch::serialize::InputArchive& archive, const std::string& file) {
  c10::IValue value;
  if (!archive.try_read("ranges", value) || !value.isInt() || value.toInt() < 0)
    fail("checkpoint file " + file + " is not a sharded optimizer state (no range count)");
  std::vector<SavedRange> saved;
  for (int64_t i = 0; i < value.toInt(); ++i) {
    torch::serialize::InputArchive entry;
    if (!archive.try_read("range" + std::to_string(i), entry)) fail("checkpoint file " + file + " lacks range " + std::to_string(i));
    c10::IValue name, offset, length, step, states;
    at::Tensor s1, a1, s2, a2;
    if (!entry.try_read("name", name) || !name.isString() || !entry.try_read("offset", offset) || !offset.isInt() ||
        !entry.try_read("length", length) || !length.isInt() || !entry.try_read("step", step) || !step.isInt() ||
        !entry.try_read("states", states) || !states.isInt() || !entry.try_read("state1", s1) ||
        !entry.try_read("absmax1", a1) || !entry.try_read("state2", s2) || !entry.try_read("absmax2", a2))
      fail("checkpoint file " + file + ": range " + std::to_string(i) + " is incomplete");
    SavedRange r;
    r.name = name.toStringRef();
    r.offset = offset.toInt();
    r.length = length.toInt();
    const bool quantized = s1.scalar_type() == at::kByte;
    const int64_t n_states = states.toInt();
    auto bad = [&](const std::string& what) {
      fail("checkpoint file " + file + ": the state of " + r.name + " [" + std::to_string(r.offset) + ", +" +
           std::to_string(r.length) + ") " + what + " (corrupt; use another checkpoint)");
    };
    if (r.offset < 0 || r.length <= 0 || r.offset % kernels::kStateBlockSize != 0 || step.toInt() < 0 ||
        (n_states != 1 && n_states != 2))
      bad("has an impossible range or step");
    auto check = [&](const at::Tensor& values, const at::Tensor& absmax) {
      if (values.dim() != 1 || values.numel() != r.length || values.scalar_type() != s1.scalar_type())
        bad("has values of the wrong size or type");
      if (quantized && (absmax.scalar_type() != at::kFloat || absmax.numel() != state_blocks(r.length)))
        bad("has the wrong number of block scales");
      if (!quantized && values.scalar_type() != at::kFloat) bad("is neither uint8 codes nor float32");
    };
    check(s1, a1);
    if (n_states == 2) check(s2, a2);
    r.state.step(step.toInt()).state1(s1).absmax1(quantized ? a1 : at::Tensor());
    if (n_states == 2) r.state.state2(s2).absmax2(quantized ? a2 : at::Tensor());
    saved.push_back(std::move(r));
  }
  return saved;
}

std::vector<SavedRange> whole_parameter_states(const Blockwise8bitOptimizer& optimizer,
                                               const std::vector<StateRange>& parameters) {
  std::vector<SavedRange> saved;
  for (const auto& p : parameters)
    if (const Blockwise8bitParamState* s = state_of(optimizer, p.values))
      saved.push_back({p.name, 0, p.values.numel(), flattened(*s)});
  return saved;
}

void restore_range_states(Blockwise8bitOptimizer& optimizer, const std::vector<StateRange>& ranges,
                          const std::vector<SavedRange>& saved) {
  for (const auto& range : ranges) {
    const int64_t begin = range.offset, end = begin + range.values.numel();
    std::vector<const SavedRange*> overlaps;
    for (const auto& s : saved)
      if (s.name == range.name && s.offset < end && s.offset + s.length > begin) overlaps.push_back(&s);
    if (overlaps.empty()) continue;  // never stepped
    const std::string where = "parameter " + range.name + " [" + std::to_string(begin) + ", " + std::to_string(end) + ")";
    const SavedRange& first = *overlaps.front();
    const bool quantized = first.state.quantized(), two = first.state.state2().defined();
    int64_t covered = 0;
    for (const SavedRange* s : overlaps) {
      if (s->state.quantized() != quantized || s->state.state2().defined() != two || s->state.step() != first.state.step())
        fail("the optimizer state of " + where + " is saved in pieces of different kinds or steps (corrupt checkpoint)");
      covered += std::min(end, s->offset + s->length) - std::max(begin, s->offset);
    }
    if (covered != end - begin)
      fail("the optimizer state of " + where + " is not fully covered by the checkpoint's shards (" +
           std::to_string(covered) + " of " + std::to_string(end - begin) + " elements); a shard file is missing");
    const auto values_options = at::TensorOptions().dtype(quantized ? at::kByte : at::kFloat);
    const auto absmax_options = at::TensorOptions().dtype(at::kFloat);
    at::Tensor v[2], a[2];
    for (int k = 0; k < (two ? 2 : 1); ++k) {
      v[k] = at::empty({end - begin}, values_options);
      if (quantized) a[k] = at::empty({state_blocks(end - begin)}, absmax_options);
      for (const SavedRange* s : overlaps) {
        const at::Tensor& from_v = k == 0 ? s->state.state1() : s->state.state2();
        const at::Tensor& from_a = k == 0 ? s->state.absmax1() : s->state.absmax2();
        copy_span(from_v, from_a, s->offset, v[k], a[k], begin, std::max(begin, s->offset),
                  std::min(end, s->offset + s->length));
      }
      if (!quantized) v[k] = v[k].view(range.values.sizes());  // fp32 state has the parameter's shape
      v[k] = v[k].to(range.values.device());
      if (a[k].defined()) a[k] = a[k].to(range.values.device());
    }
    auto state = std::make_unique<Blockwise8bitParamState>();
    state->step(first.state.step()).state1(v[0]).absmax1(a[0]).state2(v[1]).absmax2(a[1]);
    optimizer.state()[range.values.unsafeGetTensorImpl()] = std::move(state);
  }
}

}  // namespace ternary
