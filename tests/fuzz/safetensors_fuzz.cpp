// The safetensors header: JSON, dtypes, shapes and offsets against the file size.
#include "fuzz_input.h"
#include "models/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ternary::fuzz::expect_clear_error_or_success([&] {
    const auto header = ternary::parse_safetensors_header(ternary::fuzz::as_text(data, size), "fuzz.safetensors");
    for (const auto& e : header.entries)  // what the reader then copies must lie inside the input
      if (header.data_start + e.end > size) __builtin_trap();
  });
  return 0;
}
