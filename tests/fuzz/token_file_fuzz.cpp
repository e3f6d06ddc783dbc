// The tokenized-corpus (TTOKENS1) header and tokens.
#include "fuzz_input.h"
#include "train/token_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ternary::fuzz::expect_clear_error_or_success([&] {
    const auto h = ternary::validate_token_file(ternary::fuzz::as_text(data, size), "fuzz.tok");
    if (sizeof h + (h.n_train + h.n_val) * h.token_bytes != size) __builtin_trap();  // what open() then maps
  });
  return 0;
}
