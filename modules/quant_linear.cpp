#include "modules/quant_linear.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include <cmath>
#include <ostream>

namespace ternary {

QuantLinearImpl::QuantLinearImpl(QuantLinearOptions options_) : options(std::move(options_)) { reset(); }

void QuantLinearImpl::reset() {
  TORCH_CHECK(options.in_features() > 0 && options.out_features() > 0,
              "QuantLinear needs positive in/out features, got ", options.in_features(), "x", options.out_features());
  weight = register_parameter("weight", at::empty({options.out_features(), options.in_features()}));
  bias = options.bias() ? register_parameter("bias", at::empty({options.out_features()}))
                        : register_parameter("bias", {}, /*requires_grad=*/false);
  reset_parameters();
  weight_quantizer = make_quantizer_slot(*this, kWeightQuantizerSlot, options.weight_quant(), weight);
  input_quantizer = make_quantizer_slot(*this, kInputQuantizerSlot, options.input_quant());
  output_quantizer = make_quantizer_slot(*this, kOutputQuantizerSlot, options.output_quant());
}

void QuantLinearImpl::reset_parameters() {
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(options.in_features()));
    torch::nn::init::uniform_(bias, -bound, bound);
  }
}

void QuantLinearImpl::adopt_weights(const at::Tensor& new_weight, const at::Tensor& new_bias) {
  adopt_weight_and_bias("QuantLinear", weight, bias, new_weight, new_bias, weight_quantizer);
}

at::Tensor QuantLinearImpl::forward(const at::Tensor& input) {
  if (input_observer) input_observer(input);
  const at::Tensor x = apply_slot(input_quantizer, input);
  const at::Tensor w = apply_slot(weight_quantizer, weight);
  return apply_slot(output_quantizer, at::linear(x, w, bias));
}

at::Tensor QuantLinearImpl::quantized_weight() {
  at::NoGradGuard no_grad;
  return apply_slot(weight_quantizer, weight);
}

void QuantLinearImpl::pretty_print(std::ostream& stream) const {
  stream << "ternary::QuantLinear(in_features=" << options.in_features() << ", out_features=" << options.out_features()
         << ", bias=" << (options.bias() ? "true" : "false") << ", weight=" << describe_slot(options.weight_quant())
         << ", input=" << describe_slot(options.input_quant()) << ", output=" << describe_slot(options.output_quant())
         << ")";
}

}  // namespace ternary
