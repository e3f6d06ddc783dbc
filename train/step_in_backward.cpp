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
    const double norm = clip_to_own_norm(grad, per_parameter_clip);
    squared_norm += norm * norm;
    if (std::isfinite(norm)) optimizer->step_parameter(param);  // else it keeps its value and state
    grad = at::Tensor();  // freed now: the point of stepping in backward
  }
};

double clip_to_own_norm(at::Tensor& grad, double max_norm) {
  const double norm = grad.detach().norm().item<double>();
  if (max_norm > 0 && std::isfinite(norm) && norm > max_norm) grad.mul_(max_norm / (norm + 1e-6));
  return norm;
}

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
