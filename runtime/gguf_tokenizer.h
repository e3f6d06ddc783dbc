// The tokenizer a GGUF from ternary-export carries: `ternary.tokenizer` = bytes or sentencepiece
// (then the training tokenizer.model, stored whole in `ternary.tokenizer.sentencepiece_model`),
// rebuilt as the same common/tokenizer.h Tokenizer training used. LibTorch-free.
#pragma once

#include "common/tokenizer.h"
#include "runtime/gguf_file.h"

namespace ternary::runtime {

// Throws std::runtime_error naming the file when the keys are missing or malformed.
Tokenizer tokenizer_from_gguf(const gguf::File& file);

}  // namespace ternary::runtime
