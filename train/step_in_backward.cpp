#include "train/step_in_backward.h"

#include <ATen/ATen.h>

#include <cmath>

#include "optim/blockwise_optimizer.h"
#include "train/gradient_ready_hooks.h"

namespace ternary {

struct StepInBackward::State {
  Blockwise8bitOptimizer* optimizer = nullptr;
  double per_parameter_clip = 0;
  std::vector<at::Tensor> parameters;
  std::unique_ptr<GradientReadyHooks> hooks;
  double squared_norm = 0;

  void on_gradient_complete(size_t k) {
    at::Tensor& param = parameters[k];
    at::Tensor& grad = param.mutable_grad();
    if (!grad.defined()) return;
    // As clip_grad_norm_ measures it (no full-size temporary in another dtype).
    const double norm = grad.detach().norm().item<double>();
    squared_norm += norm * norm;
    if (std::isfinite(norm)) {  // else this parameter keeps its value and state
      // clip_grad_norm_'s rule, applied to this parameter alone.
      if (per_parameter_clip > 0 && norm > per_parameter_clip) grad.mul_(per_parameter_clip / (norm + 1e-6));
      optimizer->step_parameter(param);
    }
    grad = at::Tensor();  // freed now: the point of stepping in backward
  }
};

StepInBackward::StepInBackward(const std::vector<at::Tensor>& parameters, Blockwise8bitOptimizer& optimizer,
                               double per_parameter_clip)
    : state_(std::make_shared<State>()) {
  State& s = *state_;
  s.optimizer = &optimizer;
  s.per_parameter_clip = per_parameter_clip;
  s.parameters = parameters;
  const std::weak_ptr<State> weak = state_;
  s.hooks = std::make_unique<GradientReadyHooks>(parameters, [weak](size_t k) {
    if (const auto state = weak.lock()) state->on_gradient_complete(k);
  });
}

StepInBackward::~StepInBackward() = default;

void StepInBackward::begin() { state_->squared_norm = 0; }

double StepInBackward::gradient_norm() const { return std::sqrt(state_->squared_norm); }

}  // namespace ternary
