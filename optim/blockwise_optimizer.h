// Shared machinery of the 8-bit-state optimizers (AdamW8bit, Adam8bit, SGD8bit, Lion8bit): the
// per-parameter state (blockwise 8-bit, or fp32 under min_8bit_size), its lazy creation,
// validation after load, the step over all parameters or one (step_parameter, for updates
// during backward), and dispatch of an update rule to the fused kernel by dtype.
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/optim/serialize.h>

#include <optional>
#include <unordered_map>

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
  // Updates every parameter that has a gradient.
  at::Tensor step(LossClosure closure = nullptr) override;
  // Updates one parameter of this optimizer from its gradient now, exactly as step() would: for
  // updating each parameter as soon as backward completes its gradient (optimizer.step_in_backward).
  void step_parameter(at::Tensor& param);
  // bf16 parameters are written with stochastic rounding, keyed by `seed`, the parameter's place
  // in the optimizer and its step (kernels::ParamRounding); std::nullopt = round to nearest.
  void set_bf16_stochastic_rounding(std::optional<uint64_t> seed) { rounding_seed_ = seed; }
  // Bytes of optimizer state over all parameters, measured from the tensors.
  int64_t state_bytes() const;
  // Tests: run the plain reference kernel instead of the fused one.
  void use_reference_kernel(bool on) { reference_kernel_ = on; }

 protected:
  // One parameter's update with the options of its group; `ordinal` is its place in the optimizer.
  virtual void update(at::Tensor& param, const torch::optim::OptimizerOptions& options, int64_t ordinal) = 0;
  // The state of `param`, created on its first step: 8-bit when numel >= min_8bit_size.
  Blockwise8bitParamState& state_for(const at::Tensor& param, int num_states, int64_t min_8bit_size);
  // Runs `rule` (update_rules.h) over param with its gradient and state.
  template <typename Rule>
  void apply_rule(at::Tensor& param, Blockwise8bitParamState& state, const Rule& rule, int64_t ordinal);
  // After load(): every state matches its parameter, else a clear error naming both.
  void validate_state(const char* optimizer_name, int num_states) const;
  // Wraps the archive read so a corrupt or foreign state dict says what it is.
  template <typename Options>
  void load_archive(torch::serialize::InputArchive& archive, const char* optimizer_name, int num_states);
  // The update every 8-bit optimizer makes to a parameter: its state (created lazily), step + 1,
  // then the rule make_rule(options, step) applied by the fused kernel.
  template <typename Options, typename MakeRule>
  void update_with(at::Tensor& param, const torch::optim::OptimizerOptions& options, int64_t ordinal,
                   const char* optimizer_name, int num_states, MakeRule make_rule);
  template <typename Options>
  void save_archive(torch::serialize::OutputArchive& archive) const {
    torch::optim::serialize<Blockwise8bitParamState, Options>(archive, *this);
  }
  static void check_param(const at::Tensor& param, const char* optimizer_name);
  // LibTorch 2.15's add_param_group merges per-group options only for its built-in optimizer
  // types and replaces ours with the defaults; constructors call this to restore them.
  void restore_group_options(const std::vector<torch::optim::OptimizerParamGroup>& groups);

 private:
  struct Place {
    size_t group;
    int64_t ordinal;
  };
  bool reference_kernel_ = false;
  std::optional<uint64_t> rounding_seed_;
  std::unordered_map<const void*, Place> places_;  // step_parameter's index, built on first use
};

template <typename Options, typename MakeRule>
void Blockwise8bitOptimizer::update_with(at::Tensor& param, const torch::optim::OptimizerOptions& options,
                                         int64_t ordinal, const char* optimizer_name, int num_states,
                                         MakeRule make_rule) {
  const auto& typed = static_cast<const Options&>(options);
  check_param(param, optimizer_name);
  auto& state = state_for(param, num_states, typed.min_8bit_size());
  state.step(state.step() + 1);
  apply_rule(param, state, make_rule(typed, state.step()), ordinal);
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
