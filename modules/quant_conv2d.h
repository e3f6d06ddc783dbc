// QuantConv2d: torch::nn::Conv2d with weight / input / output quantizer slots. Channel and group
// granularities act on dim 0 of the (out, in/groups, kh, kw) weight; default: ternary absmean
// per output channel, no activation quantizer.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/options/conv.h>
#include <torch/nn/pimpl.h>

#include "modules/quant_slots.h"

namespace ternary {

struct QuantConv2dOptions {
  QuantConv2dOptions(int64_t in_channels, int64_t out_channels, torch::ExpandingArray<2> kernel_size)
      : conv_(in_channels, out_channels, kernel_size) {}
  explicit QuantConv2dOptions(torch::nn::Conv2dOptions conv) : conv_(std::move(conv)) {}
  TORCH_ARG(torch::nn::Conv2dOptions, conv);  // stride, padding, dilation, groups, bias, padding_mode
  TORCH_ARG(std::optional<QuantizerSpec>, weight_quant) = default_conv_weight_quant();
  TORCH_ARG(std::optional<QuantizerSpec>, input_quant) = std::nullopt;
  TORCH_ARG(std::optional<QuantizerSpec>, output_quant) = std::nullopt;

 public:
  QuantConv2dOptions& slots(const QuantSlots& s) {
    weight_quant_ = s.weight;
    input_quant_ = s.input;
    output_quant_ = s.output;
    return *this;
  }
  static QuantizerSpec default_conv_weight_quant();
};

class QuantConv2dImpl : public torch::nn::Cloneable<QuantConv2dImpl> {
 public:
  explicit QuantConv2dImpl(QuantConv2dOptions options);

  void reset() override;
  void adopt_weights(const at::Tensor& weight, const at::Tensor& bias);
  at::Tensor forward(const at::Tensor& input);
  void pretty_print(std::ostream& stream) const override;

  QuantConv2dOptions options;
  at::Tensor weight;  // (out_channels, in_channels / groups, kh, kw) latent full-precision
  at::Tensor bias;    // (out_channels) or undefined
  Quantizer weight_quantizer{nullptr};
  Quantizer input_quantizer{nullptr};
  Quantizer output_quantizer{nullptr};
};
TORCH_MODULE(QuantConv2d);

}  // namespace ternary
