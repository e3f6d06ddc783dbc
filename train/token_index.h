// A sharded tokenized corpus: a directory of token files (train/token_file.h), one per source
// text file, and index.json, written last, that lists them:
//   {"format": "ternary-engine token shards", "version": 1, "tokenizer_id": "bytes",
//    "vocab_size": 256, "token_bytes": 2, "val_fraction": 0.1,
//    "shards": [{"file": "shard_000000.tokens", "source": "corpus/a.txt",
//                "fingerprint": "0123456789abcdef", "tokens": 1115394}, ...]}
// Each shard holds its own train/val split (the last val_fraction of its tokens). A directory
// without index.json is a tokenization that did not finish, and nothing reads it. LibTorch-free,
// so a fuzz target runs the parser.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ternary {

constexpr const char* kTokenIndexFile = "index.json";

struct TokenShardEntry {
  std::string file;      // a plain file name inside the directory
  std::string source;    // the text file it came from
  uint64_t fingerprint = 0;  // the shard header's (tokenizer, source bytes, val_fraction)
  uint64_t tokens = 0;       // n_train + n_val of the shard
  bool operator==(const TokenShardEntry&) const = default;
};

struct TokenIndex {
  std::string tokenizer_id;
  uint64_t vocab_size = 0;
  uint32_t token_bytes = 2;
  double val_fraction = 0.1;
  std::vector<TokenShardEntry> shards;
  bool operator==(const TokenIndex&) const = default;
};

std::string token_index_json(const TokenIndex& index);
// Throws std::runtime_error "<path>: ..." naming what is wrong and the fix (re-run the encode).
TokenIndex parse_token_index(std::string_view text, const std::string& path);
// The name of shard `i`.
std::string token_shard_name(size_t i);

}  // namespace ternary
