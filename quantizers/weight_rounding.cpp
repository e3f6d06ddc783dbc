#include "quantizers/weight_rounding.h"

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

at::Tensor latent_for_codes(Quantizer& quantizer, const at::Tensor& codes, const at::Tensor& scale) {
  at::NoGradGuard no_grad;
  const QuantizerSpec& spec = quantizer->spec();
  if (const std::string problem = codes_unsupported(spec); !problem.empty())
    throw std::invalid_argument("quantizer " + spec.describe() + ": " + problem);
  const int64_t out = codes.size(0);
  const int64_t scale_rows = scales_per_row(spec) ? out : 1;
  const at::Tensor t = codes.to(at::kFloat);
  const at::Tensor s = scale.to(at::kFloat).reshape({-1, 1}).expand({scale_rows, 1}).contiguous();
  const at::Tensor t_rows = t.reshape({scale_rows, -1});

  // One magnitude per scale row for every nonzero code: the scale itself, except where the scale
  // is the mean |w| of the row: then nonzeros must stand taller by 1 / (their share of the row).
  at::Tensor magnitude = s;
  if (spec.scale.learned) {
    quantizer->scale.set_data(s.clone());
    if (quantizer->threshold.defined()) quantizer->threshold.set_data(0.5 * s);  // round-to-nearest's dead zone
    quantizer->initialized.fill_(true);
  } else if (spec.scale.statistic == ScaleStatistic::kAbsMean) {
    const at::Tensor nonzero_share = t_rows.ne(0).to(at::kFloat).mean(1, true);
    magnitude = at::where(nonzero_share > 0, s / nonzero_share.clamp_min(1e-12), s);
  }
  const at::Tensor latent = (t_rows * magnitude).reshape(codes.sizes());

  const QuantizedValues check = quantizer->encode(latent);
  const bool same_codes = check.codes.equal(codes.to(at::kChar));
  const at::Tensor active = t_rows.ne(0).any(1, true);  // an all-zero row's scale is moot
  const bool same_scale = at::allclose(at::where(active, check.scale, s), s, 1e-5, 0.0);
  if (!same_codes || !same_scale)
    throw std::invalid_argument("quantizer " + spec.describe() +
                                " cannot express the chosen codes and scales exactly; use round-to-nearest (absmean)");
  return latent;
}

}  // namespace ternary
