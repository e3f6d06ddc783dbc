#include "train/step_in_backward.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <cmath>

#include "optim/blockwise_optimizer.h"

namespace ternary {

struct StepInBackward::State {
  Blockwise8bitOptimizer* optimizer = nullptr;
  double per_parameter_clip = 0;
  std::vector<at::Tensor> parameters;
  std::vector<c10::intrusive_ptr<torch::autograd::Node>> accumulators;  // alive, so their hooks stay
  double squared_norm = 0;
  bool nonfinite = false;

  void on_gradient_complete(size_t k) {
    at::Tensor& param = parameters[k];
    at::Tensor& grad = param.mutable_grad();
    if (!grad.defined()) return;
    // As clip_grad_norm_ measures it (no full-size temporary in another dtype).
    const double norm = grad.detach().norm().item<double>();
    squared_norm += norm * norm;
    if (!std::isfinite(norm)) {
      nonfinite = true;  // this parameter keeps its value and state
    } else {
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
  for (size_t k = 0; k < parameters.size(); ++k) {
    if (!parameters[k].requires_grad()) continue;
    c10::intrusive_ptr<torch::autograd::Node> accumulator = torch::autograd::impl::grad_accumulator(parameters[k]);
    accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [weak, k](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          if (const auto state = weak.lock()) state->on_gradient_complete(k);
          return outputs;
        }));
    s.accumulators.push_back(std::move(accumulator));
  }
}

StepInBackward::~StepInBackward() = default;

void StepInBackward::begin() {
  state_->squared_norm = 0;
  state_->nonfinite = false;
}

double StepInBackward::gradient_norm() const { return std::sqrt(state_->squared_norm); }

bool StepInBackward::saw_nonfinite_gradient() const { return state_->nonfinite; }

}  // namespace ternary
