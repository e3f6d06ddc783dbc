#include "train/gradient_ready_hooks.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

namespace ternary {

struct GradientReadyHooks::State {
  std::function<void(size_t)> on_ready;
  std::vector<c10::intrusive_ptr<torch::autograd::Node>> accumulators;  // alive, so their hooks stay
};

GradientReadyHooks::GradientReadyHooks(const std::vector<at::Tensor>& parameters,
                                       std::function<void(size_t)> on_ready)
    : state_(std::make_shared<State>()) {
  state_->on_ready = std::move(on_ready);
  const std::weak_ptr<State> weak = state_;
  for (size_t k = 0; k < parameters.size(); ++k) {
    if (!parameters[k].requires_grad()) continue;
    c10::intrusive_ptr<torch::autograd::Node> accumulator = torch::autograd::impl::grad_accumulator(parameters[k]);
    accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [weak, k](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          if (const auto state = weak.lock()) state->on_ready(k);
          return outputs;
        }));
    state_->accumulators.push_back(std::move(accumulator));
  }
}

GradientReadyHooks::~GradientReadyHooks() = default;

}  // namespace ternary
