#include "modules/quant_act.h"

#include <ATen/ATen.h>

#include <ostream>

namespace ternary {

QuantActImpl::QuantActImpl(QuantActOptions options_) : options(std::move(options_)) { reset(); }

void QuantActImpl::reset() { act_quantizer = make_quantizer_slot(*this, "act_quantizer", options.act_quant()); }

at::Tensor QuantActImpl::forward(const at::Tensor& input) {
  const at::Tensor y = options.activation() == Activation::kRelu ? at::relu(input) : input;
  return apply_slot(act_quantizer, y);
}

void QuantActImpl::pretty_print(std::ostream& stream) const {
  stream << "ternary::QuantAct(" << (options.activation() == Activation::kRelu ? "relu" : "identity")
         << ", act=" << describe_slot(options.act_quant()) << ")";
}

}  // namespace ternary
