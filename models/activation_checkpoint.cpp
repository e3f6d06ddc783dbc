#include "models/activation_checkpoint.h"

#include <ATen/autocast_mode.h>
#include <torch/autograd.h>

#include "models/autocast_scope.h"
#include "models/llama_layers.h"

namespace ternary {
namespace {

class CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& input,
                            LlamaDecoderLayerImpl* layer) {
    const at::DeviceType device = input.device().type();
    context->saved_data["layer"] = reinterpret_cast<int64_t>(layer);
    context->saved_data["autocast"] = at::autocast::is_autocast_enabled(device);
    context->saved_data["autocast_dtype"] = at::autocast::get_autocast_dtype(device);
    context->save_for_backward({input});
    return layer->forward(input);  // Function::forward runs without recording a graph
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grad_outputs) {
    auto* layer = reinterpret_cast<LlamaDecoderLayerImpl*>(context->saved_data["layer"].toInt());
    const at::Tensor input = context->get_saved_variables()[0].detach().requires_grad_(true);
    at::Tensor output;
    {
      at::AutoGradMode grad_mode(true);
      const AutocastScope autocast(context->saved_data["autocast"].toBool(), input.device().type(),
                                   context->saved_data["autocast_dtype"].toScalarType());
      output = layer->forward(input);
    }
    torch::autograd::backward({output}, {grad_outputs[0]});
    return {input.grad(), at::Tensor()};
  }
};

}  // namespace

at::Tensor checkpointed_forward(LlamaDecoderLayerImpl& layer, const at::Tensor& input) {
  if (!input.requires_grad() || !at::GradMode::is_enabled()) return layer.forward(input);
  return CheckpointedLayer::apply(input, &layer);
}

}  // namespace ternary
