#include "modules/quant_conv2d.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/conv.h>
#include <torch/nn/init.h>

#include <cmath>
#include <ostream>

namespace ternary {

QuantizerSpec QuantConv2dOptions::default_conv_weight_quant() {
  QuantizerSpec spec;
  spec.granularity = Granularity::channel();
  spec.preset = "ternary_absmean_channel";
  return spec;
}

QuantConv2dImpl::QuantConv2dImpl(QuantConv2dOptions options_) : options(std::move(options_)) { reset(); }

void QuantConv2dImpl::reset() {
  const auto& conv = options.conv();
  TORCH_CHECK(conv.groups() > 0 && conv.in_channels() % conv.groups() == 0 && conv.out_channels() % conv.groups() == 0,
              "QuantConv2d: groups=", conv.groups(), " must divide in_channels=", conv.in_channels(),
              " and out_channels=", conv.out_channels());
  TORCH_CHECK(std::holds_alternative<torch::enumtype::kZeros>(conv.padding_mode()),
              "QuantConv2d supports padding_mode zeros only");
  const auto k = *conv.kernel_size();
  weight = register_parameter("weight", at::empty({conv.out_channels(), conv.in_channels() / conv.groups(), k[0], k[1]}));
  bias = conv.bias() ? register_parameter("bias", at::empty({conv.out_channels()}))
                     : register_parameter("bias", {}, /*requires_grad=*/false);
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));  // as torch::nn::Conv2d
  if (bias.defined()) {
    const auto fan_in = static_cast<double>(weight.numel() / weight.size(0));
    torch::nn::init::uniform_(bias, -1.0 / std::sqrt(fan_in), 1.0 / std::sqrt(fan_in));
  }
  weight_quantizer = make_quantizer_slot(*this, kWeightQuantizerSlot, options.weight_quant(), weight);
  input_quantizer = make_quantizer_slot(*this, kInputQuantizerSlot, options.input_quant());
  output_quantizer = make_quantizer_slot(*this, kOutputQuantizerSlot, options.output_quant());
}

void QuantConv2dImpl::adopt_weights(const at::Tensor& new_weight, const at::Tensor& new_bias) {
  adopt_weight_and_bias("QuantConv2d", weight, bias, new_weight, new_bias, weight_quantizer);
}

at::Tensor QuantConv2dImpl::forward(const at::Tensor& input) {
  namespace F = torch::nn::functional;
  const auto& conv = options.conv();
  const at::Tensor y = F::conv2d(apply_slot(input_quantizer, input), apply_slot(weight_quantizer, weight),
                                 F::Conv2dFuncOptions()
                                     .bias(bias)
                                     .stride(conv.stride())
                                     .padding(conv.padding())
                                     .dilation(conv.dilation())
                                     .groups(conv.groups()));
  return apply_slot(output_quantizer, y);
}

void QuantConv2dImpl::pretty_print(std::ostream& stream) const {
  const auto& conv = options.conv();
  stream << "ternary::QuantConv2d(" << conv.in_channels() << ", " << conv.out_channels()
         << ", kernel_size=" << conv.kernel_size() << ", weight=" << describe_slot(options.weight_quant())
         << ", input=" << describe_slot(options.input_quant()) << ", output=" << describe_slot(options.output_quant())
         << ")";
}

}  // namespace ternary
