// training.activation_checkpointing: a decoder layer run without keeping its activations for
// backward. Backward runs the layer again from its saved input, under the autocast state the
// forward had, and back-propagates through that recomputation, as PyTorch's reentrant
// torch.utils.checkpoint does. The layer's parameters get their gradients from that inner pass.
// The fake-quant forward is deterministic (no randomness; learned quantizer state is initialised
// once, before the recomputation), so the gradients equal a plain backward's bit for bit; a test
// checks it.
#pragma once

#include <ATen/core/Tensor.h>

namespace ternary {

class LlamaDecoderLayerImpl;

// The layer's output; without an input that requires a gradient there is nothing to recompute
// for, and this is the plain forward.
at::Tensor checkpointed_forward(LlamaDecoderLayerImpl& layer, const at::Tensor& input);

}  // namespace ternary
