#include "quantizers/ste.h"

#include <ATen/ATen.h>
#include <ATen/ExpandUtils.h>
#include <torch/autograd.h>

namespace ternary {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::Function;
using torch::autograd::variable_list;

struct RoundSte : Function<RoundSte> {
  static at::Tensor forward(AutogradContext*, const at::Tensor& x) { return at::round(x); }
  static variable_list backward(AutogradContext*, variable_list grad) { return {grad[0]}; }
};

struct ClampSte : Function<ClampSte> {
  static at::Tensor forward(AutogradContext*, const at::Tensor& x, double lo, double hi) {
    return at::clamp(x, lo, hi);
  }
  static variable_list backward(AutogradContext*, variable_list grad) { return {grad[0], {}, {}}; }
};

struct SignSte : Function<SignSte> {
  static at::Tensor forward(AutogradContext*, const at::Tensor& x) {
    return at::where(x >= 0, at::ones_like(x), -at::ones_like(x));
  }
  static variable_list backward(AutogradContext*, variable_list grad) { return {grad[0]}; }
};

struct ScaleGradient : Function<ScaleGradient> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, double factor) {
    ctx->saved_data["factor"] = factor;
    return x.clone();  // a (rows, 1) scale: copying is cheap and avoids view bookkeeping
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    return {grad[0] * ctx->saved_data["factor"].toDouble(), {}};
  }
};

at::Tensor sigmoid_derivative(const at::Tensor& z) {
  const at::Tensor s = at::sigmoid(z);
  return s * (1 - s);
}

struct TernaryThresholdQuantize : Function<TernaryThresholdQuantize> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& threshold,
                            const at::Tensor& scale_pos, const at::Tensor& scale_neg, const at::Tensor& tau,
                            bool clip_gradient) {
    ctx->save_for_backward({x, threshold, scale_pos, scale_neg, tau});
    ctx->saved_data["clip"] = clip_gradient;
    const at::Tensor zero = at::zeros({}, x.options());
    return at::where(x > threshold, scale_pos.to(x.scalar_type()),
                     at::where(x < -threshold, -scale_neg.to(x.scalar_type()), zero));
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &threshold = saved[1], &scale_pos = saved[2], &scale_neg = saved[3],
                     &tau = saved[4];
    const at::Tensor& grad = grad_outputs[0];
    at::Tensor grad_x = grad;
    if (ctx->saved_data["clip"].toBool()) grad_x = grad * ((x <= scale_pos) & (x >= -scale_neg));
    at::Tensor grad_threshold, grad_pos, grad_neg;
    if (threshold.requires_grad()) {
      const at::Tensor d_relaxed = -scale_pos * sigmoid_derivative((x - threshold) / tau) / tau +
                                   scale_neg * sigmoid_derivative((-x - threshold) / tau) / tau;
      grad_threshold = at::sum_to(grad * d_relaxed, threshold.sizes());
    }
    if (scale_pos.requires_grad()) grad_pos = at::sum_to(grad * (x > threshold), scale_pos.sizes());
    if (scale_neg.requires_grad()) grad_neg = at::sum_to(-grad * (x < -threshold), scale_neg.sizes());
    return {grad_x, grad_threshold, grad_pos, grad_neg, {}, {}};
  }
};

}  // namespace

at::Tensor round_ste(const at::Tensor& x) { return RoundSte::apply(x); }
at::Tensor clamp_ste(const at::Tensor& x, double lo, double hi) { return ClampSte::apply(x, lo, hi); }
at::Tensor sign_ste(const at::Tensor& x) { return SignSte::apply(x); }
at::Tensor scale_gradient(const at::Tensor& x, double factor) { return ScaleGradient::apply(x, factor); }

at::Tensor ternary_threshold_quantize(const at::Tensor& x, const at::Tensor& threshold, const at::Tensor& scale_pos,
                                      const at::Tensor& scale_neg, const at::Tensor& tau, bool clip_gradient) {
  return TernaryThresholdQuantize::apply(x, threshold, scale_pos, scale_neg, tau, clip_gradient);
}

}  // namespace ternary
