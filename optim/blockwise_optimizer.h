// Shared machinery of the 8-bit-state optimizers (AdamW8bit, Adam8bit, SGD8bit, Lion8bit): the
// per-parameter state (blockwise 8-bit, or fp32 under min_8bit_size), its lazy creation,
// validation after load, and dispatch of an update rule to the fused kernel by dtype.
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/optim/serialize.h>

namespace ternary {

struct Blockwise8bitParamState : public torch::optim::OptimizerCloneableParamState<Blockwise8bitParamState> {
  TORCH_ARG(int64_t, step) = 0;
  TORCH_ARG(at::Tensor, state1);   // uint8 (numel) codes, signed map; or fp32 (param shape) if small
  TORCH_ARG(at::Tensor, absmax1);  // fp32 (blocks of 256); undefined for fp32 state
  TORCH_ARG(at::Tensor, state2);   // uint8 codes, unsigned map / fp32; undefined for 1-state optimizers
  TORCH_ARG(at::Tensor, absmax2);

 public:
  bool quantized() const { return state1().defined() && state1().scalar_type() == at::kByte; }
  int64_t bytes() const;  // bytes held by the state tensors
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
};

class Blockwise8bitOptimizer : public torch::optim::Optimizer {
 public:
  using torch::optim::Optimizer::Optimizer;
  // Bytes of optimizer state over all parameters, measured from the tensors.
  int64_t state_bytes() const;
  // Tests: run the plain reference kernel instead of the fused one.
  void use_reference_kernel(bool on) { reference_kernel_ = on; }

 protected:
  // The state of `param`, created on its first step: 8-bit when numel >= min_8bit_size.
  Blockwise8bitParamState& state_for(const at::Tensor& param, int num_states, int64_t min_8bit_size);
  // Runs `rule` (update_rules.h) over param with its gradient and state.
  template <typename Rule>
  void apply_rule(at::Tensor& param, Blockwise8bitParamState& state, const Rule& rule);
  // After load(): every state matches its parameter, else a clear error naming both.
  void validate_state(const char* optimizer_name, int num_states) const;
  // Wraps the archive read so a corrupt or foreign state dict says what it is.
  template <typename Options>
  void load_archive(torch::serialize::InputArchive& archive, const char* optimizer_name, int num_states);
  // The step every 8-bit optimizer takes: for each parameter with a gradient, its state (created
  // lazily), step + 1, then the rule make_rule(options, step) applied by the fused kernel.
  template <typename Options, typename MakeRule>
  at::Tensor step_with(LossClosure closure, const char* optimizer_name, int num_states, MakeRule make_rule);
  template <typename Options>
  void save_archive(torch::serialize::OutputArchive& archive) const {
    torch::optim::serialize<Blockwise8bitParamState, Options>(archive, *this);
  }
  static void check_param(const at::Tensor& param, const char* optimizer_name);
  // LibTorch 2.15's add_param_group merges per-group options only for its built-in optimizer
  // types and replaces ours with the defaults; constructors call this to restore them.
  void restore_group_options(const std::vector<torch::optim::OptimizerParamGroup>& groups);

 private:
  bool reference_kernel_ = false;
};

template <typename Options, typename MakeRule>
at::Tensor Blockwise8bitOptimizer::step_with(LossClosure closure, const char* optimizer_name, int num_states,
                                             MakeRule make_rule) {
  at::NoGradGuard no_grad;
  at::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    const auto& options = static_cast<const Options&>(group.options());
    for (auto& param : group.params()) {
      if (!param.grad().defined()) continue;
      check_param(param, optimizer_name);
      auto& state = state_for(param, num_states, options.min_8bit_size());
      state.step(state.step() + 1);
      apply_rule(param, state, make_rule(options, state.step()));
    }
  }
  return loss;
}

template <typename Options>
void Blockwise8bitOptimizer::load_archive(torch::serialize::InputArchive& archive, const char* optimizer_name,
                                          int num_states) {
  try {
    torch::optim::serialize<Blockwise8bitParamState, Options>(archive, *this);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, optimizer_name, "::load: the archive is not a valid ", optimizer_name,
                " state (", e.what_without_backtrace(), "); load a state saved by the same optimizer");
  }
  validate_state(optimizer_name, num_states);
}

}  // namespace ternary
