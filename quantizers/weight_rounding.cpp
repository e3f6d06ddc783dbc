#include "quantizers/weight_rounding.h"

#include "quantizers/statistics.h"

#include <ATen/ATen.h>
#include <torch/types.h>

#include <stdexcept>

namespace ternary {

at::Tensor round_to_nearest(const at::Tensor& W, const QuantizerSpec& spec) {
  at::NoGradGuard no_grad;
  Quantizer quantizer(spec);
  const at::Tensor w = W.detach().to(at::kFloat);
  quantizer->attach(w);
  return quantizer->forward_reference(w);
}

std::string codes_unsupported(const QuantizerSpec& spec) {
  if (spec.levels.kind != LevelKind::kTernary) return "levels are " + spec.levels.describe() + ", not ternary";
  const GranularityKind g = spec.granularity.kind;
  if (g != GranularityKind::kTensor && g != GranularityKind::kChannel)
    return "granularity is " + spec.granularity.describe() + "; calibrated codes need one scale per tensor or per row";
  if (spec.scale.asymmetric) return "the scales are asymmetric (TTQ)";
  return "";
}

bool scales_per_row(const QuantizerSpec& spec) { return spec.granularity.kind == GranularityKind::kChannel; }

namespace {

// The (rows, 1) value the quantizer's scale statistic gives for `rows` (its threshold first, when
// the statistic needs one).
at::Tensor statistic_of(const QuantizerSpec& spec, const at::Tensor& rows) {
  at::Tensor threshold;
  if (spec.explicit_threshold()) threshold = threshold_statistic(rows, spec.threshold);
  return scale_statistic(rows, spec.scale.statistic, spec.levels, threshold, spec.scale.eps);
}

}  // namespace

at::Tensor latent_for_codes(Quantizer& quantizer, const at::Tensor& codes, const at::Tensor& scale,
                            const at::Tensor& residual) {
  at::NoGradGuard no_grad;
  const QuantizerSpec& spec = quantizer->spec();
  if (const std::string problem = codes_unsupported(spec); !problem.empty())
    throw std::invalid_argument("quantizer " + spec.describe() + ": " + problem);
  const int64_t out = codes.size(0);
  const int64_t scale_rows = scales_per_row(spec) ? out : 1;
  const at::Tensor t_rows = codes.to(at::kFloat).reshape({scale_rows, -1});
  const at::Tensor s = scale.to(at::kFloat).reshape({-1, 1}).expand({scale_rows, 1}).contiguous();
  const at::Tensor r_rows = residual.defined() ? residual.to(at::kFloat).reshape({scale_rows, -1}).clamp(-0.5, 0.5)
                                               : at::zeros_like(t_rows);
  const at::Tensor active = t_rows.ne(0).any(1, true);  // an all-zero row's scale is moot
  if (spec.scale.learned) {
    quantizer->scale.set_data(s.clone());
    if (quantizer->threshold.defined()) quantizer->threshold.set_data(0.5 * s);  // round-to-nearest's dead zone
    quantizer->initialized.fill_(true);
  }
  // Residuals of exactly ±0.5 would sit on the boundary: the largest β stays just inside.
  for (const double beta : {0.98, 0.5, 0.25, 0.0}) {
    const at::Tensor u = t_rows + beta * r_rows;
    // Learned scales are parameters; a statistic scales with its input, so s / statistic(u) · u
    // has statistic s.
    const at::Tensor magnitude = spec.scale.learned ? s : s / statistic_of(spec, u).clamp_min(1e-30);
    const at::Tensor latent = (u * magnitude).reshape(codes.sizes());
    const QuantizedValues check = quantizer->encode(latent);
    if (check.codes.equal(codes.to(at::kChar)) &&
        at::allclose(at::where(active, check.scale, s), s, 1e-5, 0.0))
      return latent;
  }
  throw std::invalid_argument("quantizer " + spec.describe() +
                              " cannot express the chosen codes and scales exactly; use round-to-nearest (absmean)");
}

}  // namespace ternary
