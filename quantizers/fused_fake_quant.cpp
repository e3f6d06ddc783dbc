#include "quantizers/fused_fake_quant.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu_features.h"

#if TERNARY_WITH_CUDA
#include "kernels/cuda/fake_quant_cuda.h"
#endif

namespace ternary {
namespace {

// Compiled per ISA tier; kernels::selected_isa() picks one. nearbyintf rounds half to even like
// at::round, and x / s is the same IEEE division as the reference, so every tier is bit-identical.
TERNARY_ALWAYS_INLINE void fake_quant_row(const float* x, float* out, int64_t n, float scale, float lo, float hi) {
  for (int64_t i = 0; i < n; ++i) {
    const float code = std::min(std::max(std::nearbyintf(x[i] / scale), lo), hi);
    out[i] = code * scale;
  }
}

TERNARY_ISA_VARIANTS(void, fake_quant_row,
                     (const float* x, float* out, int64_t n, float scale, float lo, float hi),
                     (x, out, n, scale, lo, hi))

// An output tensor for `like`, in `buffer`'s memory when nothing but `buffer` references it any
// more (the previous step's graph is gone). A fresh 46 MB allocation costs more in page faults
// than the whole quantization pass; reuse is safe because shared memory is never overwritten.
at::Tensor output_tensor(const at::Tensor& like, at::Tensor* buffer) {
  if (buffer == nullptr) return at::empty_like(like);
  const bool reusable = buffer->defined() && buffer->storage().use_count() == 1 && buffer->sizes() == like.sizes() &&
                        buffer->scalar_type() == like.scalar_type();
  if (!reusable) *buffer = at::empty_like(like);
  return at::empty({0}, like.options()).set_(buffer->storage(), 0, like.sizes(), buffer->strides());
}

struct FusedFakeQuant : torch::autograd::Function<FusedFakeQuant> {
  static at::Tensor forward(torch::autograd::AutogradContext*, const at::Tensor& rows, const at::Tensor& scale,
                            int64_t min_code, int64_t max_code, at::Tensor* buffer) {
    const at::Tensor x = rows.contiguous();
    const at::Tensor s = scale.contiguous().to(at::kFloat);
    at::Tensor out = output_tensor(x, buffer);
    const int64_t n_rows = x.size(0), cols = x.size(1);
    const float* xp = x.const_data_ptr<float>();
    const float* sp = s.const_data_ptr<float>();
    float* op = out.data_ptr<float>();
    const float lo = static_cast<float>(min_code), hi = static_cast<float>(max_code);
#if TERNARY_WITH_CUDA
    if (x.is_cuda()) {  // the legacy default stream, LibTorch's unless the caller changed it
      cuda::fake_quant_rows(xp, sp, op, n_rows, cols, lo, hi);
      return out;
    }
#endif
    using Row = void (*)(const float*, float*, int64_t, float, float, float);
    const Row fake_quant = kernels::pick_isa_variant<Row>(fake_quant_row_reference, fake_quant_row_avx2,
                                                         fake_quant_row_avx512);
    // Split the flat element range, not rows: a per-tensor scale is a single huge row.
    at::parallel_for(0, n_rows * cols, 1 << 16, [&](int64_t begin, int64_t end) {
      while (begin < end) {
        const int64_t row = begin / cols;
        const int64_t row_end = std::min(end, (row + 1) * cols);
        fake_quant(xp + begin, op + begin, row_end - begin, sp[row], lo, hi);
        begin = row_end;
      }
    });
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext*,
                                                 torch::autograd::variable_list grad) {
    return {grad[0], {}, {}, {}, {}};
  }
};

}  // namespace

bool fused_fake_quant_applies(const QuantizerSpec& spec, const at::Tensor& x) {
#if TERNARY_WITH_CUDA
  const bool device_has_kernel = x.device().is_cpu() || x.device().is_cuda();
#else
  const bool device_has_kernel = x.device().is_cpu();
#endif
  return x.scalar_type() == at::kFloat && device_has_kernel && !spec.scale.learned &&
         !spec.explicit_threshold() && spec.levels.kind != LevelKind::kBinary &&
         spec.gradient == GradientEstimator::kSte;
}

at::Tensor fused_fake_quant(const at::Tensor& rows, const at::Tensor& scale, int64_t min_code, int64_t max_code,
                            at::Tensor* reusable_buffer) {
  return FusedFakeQuant::apply(rows, scale, min_code, max_code, reusable_buffer);
}

}  // namespace ternary
