// The index of a sharded tokenized corpus (index.json): a parsed index lists only plain, unique
// file names, and dumps to JSON that parses back to the same index.
#include "fuzz_input.h"
#include "train/token_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ternary::fuzz::expect_clear_error_or_success([&] {
    const ternary::TokenIndex index = ternary::parse_token_index(ternary::fuzz::as_text(data, size), "index.json");
    for (const auto& shard : index.shards)
      if (shard.file.empty() || shard.file.find('/') != std::string::npos || shard.file == "..") __builtin_trap();
    if (!(ternary::parse_token_index(ternary::token_index_json(index), "again.json") == index)) __builtin_trap();
  });
  return 0;
}
