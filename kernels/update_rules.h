// Per-element update rules of the 8-bit optimizers, in fp32 on dequantized state. One rule
// serves the fused blockwise kernel, the fp32-state path for small tensors and the plain
// reference, so the three cannot drift. Formulas follow bitsandbytes' (and torch.optim's):
// decoupled weight decay scales p before the adaptive update.
#pragma once

#include <cmath>
#include <cstdint>

// The rules also run inside the CUDA optimizer kernel (kernels/cuda/), compiled by nvcc. LibTorch-free.
#if defined(__CUDACC__)
#define TERNARY_HOST_DEVICE __host__ __device__
#else
#define TERNARY_HOST_DEVICE
#endif

namespace ternary::kernels {

// AdamW / Adam: m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
// p = p (1 - lr wd) - lr/c1 * m / (sqrt(v)/sqrt(c2) + eps),  c_k = 1 - b_k^step.
// Coefficients are computed in double and rounded once (1 - 0.999f in float is off by 1e-5
// relative), as torch and bitsandbytes pass them to their float kernels.
struct AdamRule {
  static constexpr int kStates = 2;
  float beta1, one_minus_beta1, beta2, one_minus_beta2, eps, lr, decay_factor, step_size, inv_sqrt_correction2;
  static AdamRule make(double lr, double beta1, double beta2, double eps, double weight_decay, int64_t step) {
    return {static_cast<float>(beta1),
            static_cast<float>(1.0 - beta1),
            static_cast<float>(beta2),
            static_cast<float>(1.0 - beta2),
            static_cast<float>(eps),
            static_cast<float>(lr),
            static_cast<float>(1.0 - lr * weight_decay),
            static_cast<float>(lr / (1.0 - std::pow(beta1, static_cast<double>(step)))),
            static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(beta2, static_cast<double>(step))))};
  }
  TERNARY_HOST_DEVICE void operator()(float& p, float g, float& m, float& v) const {
    m = beta1 * m + one_minus_beta1 * g;
    v = beta2 * v + one_minus_beta2 * g * g;
    const float denom = sqrtf(v) * inv_sqrt_correction2 + eps;  // a multiply: one division less per element
    p = p * decay_factor - step_size * (m / denom);
  }
};

// SGD with momentum (bitsandbytes "momentum"): g += wd p; m = g on the first step, else
// m = momentum m + g; p -= lr m.
struct MomentumRule {
  static constexpr int kStates = 1;
  float momentum, lr, weight_decay;
  bool first_step;
  TERNARY_HOST_DEVICE void operator()(float& p, float g, float& m, float&) const {
    g += weight_decay * p;
    m = first_step ? g : momentum * m + g;
    p -= lr * m;
  }
};

// Lion: p = p (1 - lr wd) - lr sign(b1 m + (1-b1) g);  m = b2 m + (1-b2) g.
struct LionRule {
  static constexpr int kStates = 1;
  float beta1, one_minus_beta1, beta2, one_minus_beta2, lr, decay_factor;
  static LionRule make(double lr, double beta1, double beta2, double weight_decay) {
    return {static_cast<float>(beta1), static_cast<float>(1.0 - beta1), static_cast<float>(beta2),
            static_cast<float>(1.0 - beta2), static_cast<float>(lr), static_cast<float>(1.0 - lr * weight_decay)};
  }
  TERNARY_HOST_DEVICE void operator()(float& p, float g, float& m, float&) const {
    const float direction = beta1 * m + one_minus_beta1 * g;
    const float sign = static_cast<float>((direction > 0.0f) - (direction < 0.0f));
    p = p * decay_factor - lr * sign;
    m = beta2 * m + one_minus_beta2 * g;
  }
};

}  // namespace ternary::kernels
