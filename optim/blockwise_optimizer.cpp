#include "optim/blockwise_optimizer.h"

#include <ATen/ATen.h>
#include <c10/util/BFloat16.h>

#include "kernels/blockwise_update.h"
#include "kernels/dynamic_map.h"
#include "kernels/update_rules.h"

#if TERNARY_WITH_CUDA
#include "kernels/cuda/blockwise_update_cuda.h"
#endif

namespace ternary {
namespace {

using kernels::AdamRule;
using kernels::DynamicCodebook;
using kernels::LionRule;
using kernels::MomentumRule;
using kernels::QuantizedState;
using kernels::state_blocks;

// splitmix64's finalizer: a well-mixed 64-bit value from a counter.
uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The rounding key of one parameter's step: a function of the run's seed, the parameter and its
// step count only (the step count is checkpointed), so a resumed run rounds as an uninterrupted one.
uint32_t rounding_key(uint64_t seed, int64_t ordinal, int64_t step) {
  return static_cast<uint32_t>(mix64(mix64(seed) ^ mix64(static_cast<uint64_t>(ordinal) << 32 ^
                                                          static_cast<uint64_t>(step))) >> 32);
}

int64_t tensor_bytes(const at::Tensor& t) { return t.defined() ? t.numel() * t.element_size() : 0; }

// A state loaded from a checkpoint lives on the CPU; it follows its parameter to the GPU once.
void move_state_to(Blockwise8bitParamState& state, const at::Device& device) {
  auto moved = [&](const at::Tensor& t) { return t.defined() && t.device() != device ? t.to(device) : t; };
  state.state1(moved(state.state1())).absmax1(moved(state.absmax1()));
  state.state2(moved(state.state2())).absmax2(moved(state.absmax2()));
}

#if TERNARY_WITH_CUDA
template <typename Rule>
void cuda_step(at::Tensor& param, const at::Tensor& grad, Blockwise8bitParamState& state, const Rule& rule) {
  const bool two = Rule::kStates == 2;
  const auto type = param.scalar_type() == at::kFloat ? cuda::ParamType::kFloat32 : cuda::ParamType::kBFloat16;
  const int64_t n = param.numel();
  // Stream nullptr: the legacy default stream, where LibTorch queues its own work unless a caller
  // switched streams (then this step would need that stream: not supported, see docs/cuda.md).
  if (state.quantized()) {
    QuantizedState s1{state.state1().data_ptr<uint8_t>(), state.absmax1().data_ptr<float>()};
    QuantizedState s2{two ? state.state2().data_ptr<uint8_t>() : nullptr,
                      two ? state.absmax2().data_ptr<float>() : nullptr};
    cuda::blockwise_step(param.data_ptr(), grad.const_data_ptr(), type, n, s1, s2, rule);
  } else {
    cuda::fp32_state_step(param.data_ptr(), grad.const_data_ptr(), type, n, state.state1().data_ptr<float>(),
                          two ? state.state2().data_ptr<float>() : nullptr, rule);
  }
}
#endif

}  // namespace

int64_t Blockwise8bitParamState::bytes() const {
  return tensor_bytes(state1()) + tensor_bytes(absmax1()) + tensor_bytes(state2()) + tensor_bytes(absmax2());
}

void Blockwise8bitParamState::serialize(torch::serialize::OutputArchive& archive) const {
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(step);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(state1);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(absmax1);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(state2);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(absmax2);
}

void Blockwise8bitParamState::serialize(torch::serialize::InputArchive& archive) {
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(int64_t, step);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(at::Tensor, state1);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(at::Tensor, absmax1);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(at::Tensor, state2);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(at::Tensor, absmax2);
}

at::Tensor Blockwise8bitOptimizer::step(LossClosure closure) {
  at::NoGradGuard no_grad;
  at::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  int64_t ordinal = 0;
  for (auto& group : param_groups_) {
    for (auto& param : group.params()) {
      if (param.grad().defined()) update(param, group.options(), ordinal);
      ++ordinal;
    }
  }
  return loss;
}

void Blockwise8bitOptimizer::step_parameter(at::Tensor& param) {
  const void* key = param.unsafeGetTensorImpl();
  if (!places_.count(key)) {  // (re)index: groups may have been added since
    places_.clear();
    int64_t ordinal = 0;
    for (size_t g = 0; g < param_groups_.size(); ++g)
      for (const auto& p : param_groups_[g].params()) places_[p.unsafeGetTensorImpl()] = {g, ordinal++};
  }
  const auto found = places_.find(key);
  TORCH_CHECK(found != places_.end(), "step_parameter: the tensor (shape ", param.sizes(),
              ") is not a parameter of this optimizer");
  if (!param.grad().defined()) return;
  at::NoGradGuard no_grad;
  update(param, param_groups_[found->second.group].options(), found->second.ordinal);
}

int64_t Blockwise8bitOptimizer::state_bytes() const {
  int64_t total = 0;
  for (const auto& [key, state] : state_) total += static_cast<const Blockwise8bitParamState&>(*state).bytes();
  return total;
}

void Blockwise8bitOptimizer::check_param(const at::Tensor& param, const char* optimizer_name) {
#if TERNARY_WITH_CUDA
  TORCH_CHECK(param.device().is_cpu() || param.device().is_cuda(), optimizer_name,
              ": parameters must be CPU or CUDA tensors, got ", param.device());
#else
  TORCH_CHECK(param.device().is_cpu(), optimizer_name, ": parameter on ", param.device(),
              ", but this build has no CUDA kernels; rebuild with -DTERNARY_ENABLE_CUDA=ON (scripts/build_gpu.sh)");
#endif
  TORCH_CHECK(param.scalar_type() == at::kFloat || param.scalar_type() == at::kBFloat16, optimizer_name,
              ": parameters must be float32 or bfloat16, got ", param.scalar_type());
  TORCH_CHECK(param.is_contiguous(), optimizer_name, ": parameters must be contiguous");
}

void Blockwise8bitOptimizer::restore_group_options(const std::vector<torch::optim::OptimizerParamGroup>& groups) {
  for (size_t i = 0; i < groups.size() && i < param_groups_.size(); ++i)
    if (groups[i].has_options())
      param_groups_[i].set_options(static_cast<const torch::optim::OptimizerOptions&>(groups[i].options()).clone());
}

Blockwise8bitParamState& Blockwise8bitOptimizer::state_for(const at::Tensor& param, int num_states,
                                                           int64_t min_8bit_size) {
  void* key = param.unsafeGetTensorImpl();
  auto found = state_.find(key);
  if (found != state_.end()) return static_cast<Blockwise8bitParamState&>(*found->second);
  auto state = std::make_unique<Blockwise8bitParamState>();
  const int64_t n = param.numel();
  const auto fp32 = at::TensorOptions().dtype(at::kFloat).device(param.device());
  for (int k = 0; k < num_states; ++k) {
    at::Tensor values, absmax;
    if (n >= min_8bit_size) {
      // Zero state: every code is the map's 0 with absmax 0.
      const uint8_t zero = (k == 0 ? DynamicCodebook::signed_map() : DynamicCodebook::unsigned_map()).zero_code();
      values = at::full({n}, zero, at::TensorOptions().dtype(at::kByte).device(param.device()));
      absmax = at::zeros({state_blocks(n)}, fp32);
    } else {
      values = at::zeros(param.sizes(), fp32);
    }
    if (k == 0) state->state1(values).absmax1(absmax);
    else state->state2(values).absmax2(absmax);
  }
  auto& ref = *state;
  state_[key] = std::move(state);
  return ref;
}

template <typename Rule>
void Blockwise8bitOptimizer::apply_rule(at::Tensor& param, Blockwise8bitParamState& state, const Rule& rule,
                                        int64_t ordinal) {
  const at::Tensor grad = param.grad().to(param.scalar_type()).contiguous();
  move_state_to(state, param.device());
  kernels::ParamRounding rounding;
  if (rounding_seed_ && param.scalar_type() == at::kBFloat16)
    rounding = {true, rounding_key(*rounding_seed_, ordinal, state.step())};
#if TERNARY_WITH_CUDA
  if (param.is_cuda()) {
    TORCH_CHECK(!rounding.stochastic, "stochastic rounding of bf16 parameters runs on CPU tensors only; the CUDA "
                                      "step rounds to nearest (train with fp32 master weights on CUDA)");
    cuda_step(param, grad, state, rule);
    return;
  }
#endif
  const int64_t n = param.numel();
  const bool two = Rule::kStates == 2;
  auto run = [&](auto* p, const auto* g) {
    if (state.quantized()) {
      QuantizedState s1{state.state1().data_ptr<uint8_t>(), state.absmax1().data_ptr<float>()};
      QuantizedState s2{two ? state.state2().data_ptr<uint8_t>() : nullptr,
                        two ? state.absmax2().data_ptr<float>() : nullptr};
      if (reference_kernel_) kernels::reference_blockwise_step(p, g, n, s1, s2, rule, rounding);
      else kernels::fused_blockwise_step(p, g, n, s1, s2, rule, rounding);
    } else {
      kernels::fp32_state_step(p, g, n, state.state1().data_ptr<float>(),
                               two ? state.state2().data_ptr<float>() : nullptr, rule, rounding);
    }
  };
  if (param.scalar_type() == at::kFloat) {
    run(param.data_ptr<float>(), grad.const_data_ptr<float>());
  } else {
    // c10::BFloat16 and kernels::BFloat16 are the same two bytes with the same rounding.
    run(reinterpret_cast<kernels::BFloat16*>(param.data_ptr<c10::BFloat16>()),
        reinterpret_cast<const kernels::BFloat16*>(grad.const_data_ptr<c10::BFloat16>()));
  }
}

template void Blockwise8bitOptimizer::apply_rule<AdamRule>(at::Tensor&, Blockwise8bitParamState&, const AdamRule&,
                                                           int64_t);
template void Blockwise8bitOptimizer::apply_rule<MomentumRule>(at::Tensor&, Blockwise8bitParamState&,
                                                               const MomentumRule&, int64_t);
template void Blockwise8bitOptimizer::apply_rule<LionRule>(at::Tensor&, Blockwise8bitParamState&, const LionRule&,
                                                           int64_t);

void Blockwise8bitOptimizer::validate_state(const char* optimizer_name, int num_states) const {
  int64_t index = 0;
  for (const auto& group : param_groups_) {
    for (const auto& param : group.params()) {
      const auto found = state_.find(param.unsafeGetTensorImpl());
      ++index;
      if (found == state_.end()) continue;  // no step taken yet for this parameter
      const auto& s = static_cast<const Blockwise8bitParamState&>(*found->second);
      const int64_t n = param.numel();
      auto fail = [&](const std::string& what) {
        TORCH_CHECK(false, optimizer_name, "::load: state of parameter #", index, " (shape ", param.sizes(), ") ", what,
                    "; the state dict does not belong to this model/optimizer");
      };
      if (s.step() < 0) fail("has a negative step");
      const at::Tensor values[2] = {s.state1(), s.state2()};
      const at::Tensor scales[2] = {s.absmax1(), s.absmax2()};
      for (int k = 0; k < num_states; ++k) {
        const std::string name = "state" + std::to_string(k + 1);
        if (!values[k].defined()) fail("has no " + name);
        if (values[k].scalar_type() == at::kByte) {
          if (values[k].numel() != n) fail(name + " has " + std::to_string(values[k].numel()) + " codes, expected " +
                                           std::to_string(n));
          if (!scales[k].defined() || scales[k].scalar_type() != at::kFloat || scales[k].numel() != state_blocks(n))
            fail("absmax" + std::to_string(k + 1) + " is missing or not " + std::to_string(state_blocks(n)) +
                 " float32 block scales");
          if (!at::isfinite(scales[k]).all().item<bool>() || (scales[k] < 0).any().item<bool>())
            fail("absmax" + std::to_string(k + 1) + " holds negative or non-finite values");
        } else if (values[k].scalar_type() != at::kFloat || values[k].sizes() != param.sizes()) {
          fail(name + " is neither uint8 codes nor a float32 tensor of the parameter's shape");
        }
        if (values[k].scalar_type() != values[0].scalar_type()) fail("mixes 8-bit and fp32 states");
      }
    }
  }
}

}  // namespace ternary
