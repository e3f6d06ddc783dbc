#include "train/token_file.h"

#include <cstring>
#include <stdexcept>

namespace ternary {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw std::runtime_error(path + ": " + message);
}

}  // namespace

TokenFileHeader validate_token_file(std::string_view file, const std::string& path, bool require_split) {
  TokenFileHeader h;
  if (file.size() < sizeof h) fail(path, "too short or unreadable to be a tokenized data file; delete it to rebuild");
  std::memcpy(&h, file.data(), sizeof h);
  if (std::memcmp(h.magic, kTokenFileMagic, sizeof kTokenFileMagic) != 0)
    fail(path, "not a tokenized data file (bad magic); delete it to rebuild");
  if (h.version != kTokenFileVersion)
    fail(path, "tokenized data version " + std::to_string(h.version) + ", expected " +
                   std::to_string(kTokenFileVersion) + "; delete it to rebuild");
  if (h.token_bytes != 2 && h.token_bytes != 4) fail(path, "bad token width; delete it to rebuild");
  // Each count is bounded by the file before any arithmetic, so nothing can overflow.
  const uint64_t capacity = (file.size() - sizeof h) / h.token_bytes;
  if (h.n_train > capacity || h.n_val > capacity - h.n_train ||
      sizeof h + (h.n_train + h.n_val) * h.token_bytes != file.size())
    fail(path, "size does not match its header (truncated?); delete it to rebuild");
  if (require_split && (h.n_train < 2 || h.n_val < 2)) fail(path, "holds too few tokens for a train/val split; delete it to rebuild");
  if (h.vocab_size == 0 || h.vocab_size > (h.token_bytes == 2 ? 65536u : uint64_t{INT32_MAX}))
    fail(path, "vocabulary size " + std::to_string(h.vocab_size) + " does not fit its " +
                   std::to_string(h.token_bytes) + "-byte tokens; delete it to rebuild");
  const char* tokens = file.data() + sizeof h;
  const uint64_t n_tokens = h.n_train + h.n_val;
  for (uint64_t i = 0; i < n_tokens; ++i) {  // a token past the vocabulary would index out of the embedding
    uint32_t token = 0;
    if (h.token_bytes == 2) {
      uint16_t t;
      std::memcpy(&t, tokens + 2 * i, 2);
      token = t;
    } else {
      std::memcpy(&token, tokens + 4 * i, 4);
    }
    if (token >= h.vocab_size)
      fail(path, "token " + std::to_string(i) + " is id " + std::to_string(token) + ", outside its vocabulary of " +
                     std::to_string(h.vocab_size) + " (corrupt); delete it to rebuild");
  }
  return h;
}

}  // namespace ternary
