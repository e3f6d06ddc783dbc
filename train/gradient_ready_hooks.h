// Calls back when backward has completed a parameter's gradient: a post-hook on the parameter's
// gradient accumulator, which runs once per backward after every use of the parameter has
// contributed (tied weights included). The gradient reducer launches its buckets from it, and
// step_in_backward updates parameters from it.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

namespace ternary {

class GradientReadyHooks {
 public:
  // on_ready(k) runs when parameters[k]'s gradient is complete; parameters without requires_grad
  // are skipped. The hooks stay registered while this object lives.
  GradientReadyHooks(const std::vector<at::Tensor>& parameters, std::function<void(size_t)> on_ready);
  ~GradientReadyHooks();
  GradientReadyHooks(const GradientReadyHooks&) = delete;
  GradientReadyHooks& operator=(const GradientReadyHooks&) = delete;

 private:
  struct State;
  std::shared_ptr<State> state_;  // the hooks hold it weakly
};

}  // namespace ternary
