// optimizer.step_in_backward: each parameter is updated by the 8-bit optimizer as soon as backward
// has completed its gradient, and the gradient is freed at once, so the full set of gradients
// never exists (the layer-wise update of LOMO and GaLore). A hook on each parameter's gradient
// accumulator does it; the accumulator runs once per backward, after every use of the parameter
// has contributed (tied weights included), and nothing that runs later reads the parameter.
//
// What needs all gradients at once cannot be done here: global-norm clipping (each parameter's
// gradient can be clipped to its own norm instead), accumulation over micro-batches, and gradient
// averaging across ranks. TrainConfig and the Trainer reject those combinations.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace ternary {

class Blockwise8bitOptimizer;

// training.grad_clip_scope: parameter. clip_grad_norm_'s rule applied to one gradient: scaled to
// max_norm when its norm is above it (max_norm <= 0: never). Returns the norm before clipping,
// as clip_grad_norm_ measures it (no full-size temporary in another dtype). Used by the ordinary
// step and by step_in_backward, so the two clip alike.
double clip_to_own_norm(at::Tensor& grad, double max_norm);

class StepInBackward {
 public:
  // `optimizer` (not owned) holds `parameters`. per_parameter_clip > 0 clips each parameter's
  // gradient to that norm before its update (0 = none).
  StepInBackward(const std::vector<at::Tensor>& parameters, Blockwise8bitOptimizer& optimizer,
                 double per_parameter_clip);
  ~StepInBackward();
  StepInBackward(const StepInBackward&) = delete;
  StepInBackward& operator=(const StepInBackward&) = delete;

  // Before each backward: clears the norm.
  void begin();
  // After it: the global norm of the gradients seen (before clipping), as clip_grad_norm_ reports
  // it; NaN/Inf when a gradient was not finite (its parameter was left as it was).
  double gradient_norm() const;

 private:
  struct State;
  std::shared_ptr<State> state_;  // the hooks hold it weakly
};

}  // namespace ternary
