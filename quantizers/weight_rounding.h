// A weight quantizer's two directions, for initialisers that choose codes themselves (GPTQ, AWQ):
// what the recipe's own round-to-nearest gives for a weight, and which latent weight makes the
// quantizer produce chosen codes and scales exactly, so that the exporter and runtime see an
// ordinary quantized layer.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "quantizers/quantizer.h"

namespace ternary {

// W fake-quantized as a fresh quantizer of `spec` would, its learned parameters (if any)
// initialised from W: the recipe's baseline. Float32, W's shape.
at::Tensor round_to_nearest(const at::Tensor& W, const QuantizerSpec& spec);

// Whether an initialiser may choose codes for this quantizer: ternary levels, one scale per tensor
// or per output row. Returns "" when it can, else what stands in the way.
std::string codes_unsupported(const QuantizerSpec& spec);
// True when the quantizer has one scale per output row (channel), false for one per tensor.
bool scales_per_row(const QuantizerSpec& spec);

// The latent weight for which `quantizer` encodes exactly `codes` (int8, (out, in), in {-1, 0, 1})
// with `scale` ((1, 1) or (out, 1)); learned scales and thresholds are set too. The latent is
// scale · u / statistic(u) with u = codes + β · residual: a weight keeps where it stood in its
// rounding cell (`residual`, in units of the scale, within ±0.5; undefined = 0), so training can
// move marginal weights across a boundary as easily as pretrained ones. β is the largest of 1, ½,
// ¼, 0 for which the quantizer's own statistic still reproduces the codes; β = 0 always does.
// Verified by encoding; throws std::invalid_argument when the spec cannot express the codes.
at::Tensor latent_for_codes(Quantizer& quantizer, const at::Tensor& codes, const at::Tensor& scale,
                            const at::Tensor& residual = {});

}  // namespace ternary
