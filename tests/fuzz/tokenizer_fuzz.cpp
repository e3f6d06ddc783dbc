// The tokenizer from a model blob (what a GGUF or data.tokenizer_model hands it), and byte-level
// round trips. Oracles: bytes decode(encode(x)) == x; every id a model encodes decodes.
#include "common/tokenizer.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(ternary::fuzz::as_text(data, size));
  const ternary::Tokenizer bytes = ternary::Tokenizer::bytes();
  if (bytes.decode(bytes.encode(input)) != input) __builtin_trap();
  ternary::fuzz::expect_clear_error_or_success([&] {
    const ternary::Tokenizer model(ternary::TokenizerKind::kSentencePiece, input, "fuzz.model");
    const std::vector<int32_t> ids = model.encode("ROMEO: But soft, what light?  \n\t x");
    model.decode(ids);
    for (const int32_t id : ids) model.decode_one(id), model.piece(id);
  });
  return 0;
}
