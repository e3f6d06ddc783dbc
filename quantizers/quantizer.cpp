#include "quantizers/quantizer.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>
#include <ostream>

#include "quantizers/fused_fake_quant.h"
#include "quantizers/statistics.h"
#include "quantizers/ste.h"

namespace ternary {

at::Tensor QuantizedValues::decode() const {
  const at::Tensor rows = codes.reshape({scale.size(0), -1}).to(at::kFloat);
  at::Tensor values = rows * scale;
  if (scale_neg.defined()) values = at::where(rows < 0, rows * scale_neg, values);
  return values.view(codes.sizes());
}

QuantizerImpl::QuantizerImpl(QuantizerSpec spec) : spec_(std::move(spec)) {
  spec_.validate();
  reset();
}

void QuantizerImpl::reset() {
  const auto options = at::TensorOptions().dtype(at::kFloat);
  initialized = register_buffer("initialized", at::zeros({}, at::kBool));
  if (spec_.scale.learned) {
    scale = register_parameter("scale", at::ones({learned_rows_, 1}, options));
    if (spec_.scale.asymmetric) scale_neg = register_parameter("scale_neg", at::ones({learned_rows_, 1}, options));
  }
  if (spec_.threshold.kind == ThresholdKind::kLearned)
    threshold = register_parameter("threshold", at::zeros({learned_rows_, 1}, options));
}

std::pair<int64_t, int64_t> QuantizerImpl::rows_and_cols(const at::Tensor& x) const {
  try {
    return spec_.granularity.rows_and_cols(x.sizes().vec());
  } catch (const std::invalid_argument& e) {
    TORCH_CHECK(false, "quantizer ", spec_.describe(), ": ", e.what());
  }
}

void QuantizerImpl::attach(const at::Tensor& reference) {
  if (!spec_.has_learned_parameters()) return;
  learned_rows_ = rows_and_cols(reference).first;
  initialize_learned(reference.detach().reshape({learned_rows_, -1}));
}

void QuantizerImpl::initialize_learned(const at::Tensor& rows) {
  at::NoGradGuard no_grad;
  const at::Tensor data = rows.detach().to(at::kFloat);
  TORCH_CHECK(data.size(0) == learned_rows_ || learned_rows_ == 1,
              "quantizer ", spec_.describe(), ": learned parameters have ", learned_rows_, " rows but the input has ",
              data.size(0), "; call attach() with the weight this quantizer belongs to");
  const at::Tensor stats_rows = data.size(0) == learned_rows_ ? data : data.reshape({1, -1});
  at::Tensor initial_threshold;
  if (spec_.explicit_threshold()) initial_threshold = threshold_statistic(stats_rows, spec_.threshold);
  if (spec_.scale.learned) {
    const at::Tensor initial_scale =
        scale_statistic(stats_rows, spec_.scale.statistic, spec_.levels, initial_threshold, spec_.scale.eps);
    scale.set_data(initial_scale.clone());
    if (scale_neg.defined()) scale_neg.set_data(initial_scale.clone());
  }
  if (threshold.defined()) threshold.set_data(initial_threshold.clone());
  initialized.fill_(true);
}

QuantizerImpl::RowParams QuantizerImpl::row_params(const at::Tensor& rows) {
  if (spec_.has_learned_parameters() && !initialized.item<bool>()) initialize_learned(rows);
  const at::Tensor data = rows.detach();
  const auto dtype = rows.scalar_type();
  // LSQ: N is the number of elements that share one scale.
  const double lsq_factor = spec_.gradient == GradientEstimator::kLsq
                                ? 1.0 / std::sqrt(static_cast<double>(rows.size(1) * spec_.levels.positive_levels()))
                                : 1.0;
  auto learned = [&](const at::Tensor& parameter, double floor) {
    at::Tensor value = parameter.clamp_min(floor).to(dtype);
    return lsq_factor == 1.0 ? value : scale_gradient(value, lsq_factor);
  };

  RowParams p;
  if (spec_.explicit_threshold())
    p.threshold = threshold.defined() ? learned(threshold, 0.0) : threshold_statistic(data, spec_.threshold);
  if (spec_.scale.learned) {
    p.scale = learned(scale, spec_.scale.eps);
    p.scale_neg = scale_neg.defined() ? learned(scale_neg, spec_.scale.eps) : p.scale;
  } else {
    const at::Tensor t = p.threshold.defined() ? p.threshold.detach() : at::Tensor();
    p.scale = scale_statistic(data, spec_.scale.statistic, spec_.levels, t, spec_.scale.eps);
    p.scale_neg = p.scale;
  }
  return p;
}

at::Tensor QuantizerImpl::quantize_rows_reference(const at::Tensor& rows, const RowParams& p) {
  const bool plain_ste = spec_.gradient == GradientEstimator::kSte;
  if (spec_.explicit_threshold()) {
    const at::Tensor tau = spec_.threshold.temperature * p.scale.detach();
    return ternary_threshold_quantize(rows, p.threshold, p.scale, p.scale_neg, tau, !plain_ste);
  }
  const at::Tensor v = rows / p.scale;
  if (spec_.levels.kind == LevelKind::kBinary) return sign_ste(plain_ste ? v : v.clamp(-1, 1)) * p.scale;
  const double lo = static_cast<double>(spec_.levels.min_code()), hi = static_cast<double>(spec_.levels.max_code());
  // Plain STE passes gradient through the clamp too; clipped STE and LSQ zero it outside.
  const at::Tensor clamped = plain_ste ? clamp_ste(v, lo, hi) : v.clamp(lo, hi);
  return round_ste(clamped) * p.scale;
}

at::Tensor QuantizerImpl::finish(const at::Tensor& x, const at::Tensor& q_rows) const {
  const at::Tensor q = q_rows.view(x.sizes());
  if (warmup_lambda_ == 1.0) return q;
  // q carries its own estimator's gradients, so learned parameters keep training during warm-up.
  return x + warmup_lambda_ * (q - x);
}

at::Tensor QuantizerImpl::forward(const at::Tensor& x) {
  const auto [n_rows, cols] = rows_and_cols(x);
  const at::Tensor rows = x.reshape({n_rows, cols});
  if (fused_fake_quant_applies(spec_, x)) {
    const at::Tensor s = scale_statistic(rows.detach(), spec_.scale.statistic, spec_.levels, {}, spec_.scale.eps);
    return finish(x, fused_fake_quant(rows, s, spec_.levels.min_code(), spec_.levels.max_code(),
                                       reuse_output_buffer_ ? &fused_output_buffer_ : nullptr));
  }
  return finish(x, quantize_rows_reference(rows, row_params(rows)));
}

at::Tensor QuantizerImpl::forward_reference(const at::Tensor& x) {
  const auto [n_rows, cols] = rows_and_cols(x);
  const at::Tensor rows = x.reshape({n_rows, cols});
  return finish(x, quantize_rows_reference(rows, row_params(rows)));
}

QuantizedValues QuantizerImpl::encode(const at::Tensor& x) {
  at::NoGradGuard no_grad;
  TORCH_CHECK(spec_.levels.bits <= 8, "encode() emits int8 codes; ", spec_.levels.describe(), " needs more bits");
  const auto [n_rows, cols] = rows_and_cols(x);
  const at::Tensor rows = x.detach().reshape({n_rows, cols}).to(at::kFloat);
  const RowParams p = row_params(rows);
  at::Tensor codes;
  if (spec_.explicit_threshold()) {
    codes = (rows > p.threshold).to(at::kChar) - (rows < -p.threshold).to(at::kChar);
  } else if (spec_.levels.kind == LevelKind::kBinary) {
    codes = at::where(rows >= 0, 1, -1);
  } else {
    codes = at::clamp(at::round(rows / p.scale), spec_.levels.min_code(), spec_.levels.max_code());
  }
  QuantizedValues values;
  values.codes = codes.to(at::kChar).view(x.sizes());
  values.scale = p.scale.to(at::kFloat).contiguous();
  if (scale_neg.defined()) values.scale_neg = p.scale_neg.to(at::kFloat).contiguous();
  values.granularity = spec_.granularity;
  return values;
}

void QuantizerImpl::set_warmup_lambda(double lambda) {
  TORCH_CHECK(lambda >= 0.0 && lambda <= 1.0, "warm-up lambda must be in [0, 1], got ", lambda);
  warmup_lambda_ = lambda;
}

void QuantizerImpl::set_output_buffer_reuse(bool on) {
  reuse_output_buffer_ = on;
  if (!on) fused_output_buffer_ = at::Tensor();
}

void QuantizerImpl::pretty_print(std::ostream& stream) const { stream << "ternary::Quantizer(" << spec_.describe() << ")"; }

}  // namespace ternary
