// The tokenized-corpus file (TTOKENS1) that TokenDataset writes and memory-maps: a 112-byte
// little-endian header (magic, version, token width, vocabulary size, train and val counts, a
// fingerprint of sources + tokenizer + split, the tokenizer id), then the tokens. LibTorch-free,
// so a fuzz target can run the validation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ternary {

constexpr char kTokenFileMagic[8] = {'T', 'T', 'O', 'K', 'E', 'N', 'S', '1'};
constexpr uint32_t kTokenFileVersion = 1;

#pragma pack(push, 1)
struct TokenFileHeader {
  char magic[8];
  uint32_t version;
  uint32_t token_bytes;  // 2 or 4
  uint64_t vocab_size;
  uint64_t n_train;
  uint64_t n_val;
  uint64_t fingerprint;
  char tokenizer_id[64];
};
#pragma pack(pop)
static_assert(sizeof(TokenFileHeader) == 112, "token file header layout");

// Checks every header field against the file's size (overflow-safe) and every token against the
// vocabulary; returns the header. Throws std::runtime_error "<path>: ... delete it to rebuild".
// A whole corpus needs at least two tokens in each split; a shard of one (train/token_index.h)
// may hold any number, the corpus is checked as a whole.
TokenFileHeader validate_token_file(std::string_view file, const std::string& path, bool require_split = true);

}  // namespace ternary
