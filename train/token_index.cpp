#include "train/token_index.h"

#include <nlohmann/json.hpp>

#include <cinttypes>
#include <cstdio>
#include <set>
#include <stdexcept>

#include "train/checkpoint_manifest.h"

namespace ternary {
namespace {

constexpr const char* kFormat = "ternary-engine token shards";
constexpr int64_t kVersion = 1;
constexpr size_t kMaxShards = size_t{1} << 20;

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw std::runtime_error(path + ": " + message + "; run ternary-tokenizer encode again");
}

std::string hex64(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016" PRIx64, value);
  return text;
}

bool parse_hex64(const std::string& text, uint64_t& value) {
  if (text.size() != 16) return false;
  value = 0;
  for (char c : text) {
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) return false;
    value = value << 4 | static_cast<uint64_t>(digit);
  }
  return true;
}

}  // namespace

std::string token_shard_name(size_t i) {
  char name[32];
  std::snprintf(name, sizeof name, "shard_%06zu.tokens", i);
  return name;
}

std::string token_index_json(const TokenIndex& index) {
  nlohmann::json shards = nlohmann::json::array();
  for (const auto& s : index.shards)
    shards.push_back({{"file", s.file}, {"source", s.source}, {"fingerprint", hex64(s.fingerprint)},
                      {"tokens", s.tokens}});
  const nlohmann::json json = {{"format", kFormat},
                               {"version", kVersion},
                               {"tokenizer_id", index.tokenizer_id},
                               {"vocab_size", index.vocab_size},
                               {"token_bytes", index.token_bytes},
                               {"val_fraction", index.val_fraction},
                               {"shards", shards}};
  return json.dump(1) + "\n";
}

TokenIndex parse_token_index(std::string_view text, const std::string& path) {
  const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) fail(path, "is corrupt (not a JSON object)");
  if (!json.contains("format") || json.at("format") != kFormat) fail(path, "is not a token-shard index");
  if (!json.contains("version") || !json.at("version").is_number_integer() || json.at("version") != kVersion)
    fail(path, "has an unsupported version (this build reads version " + std::to_string(kVersion) + ")");
  auto field = [&](const nlohmann::json& object, const char* key, auto check, const char* what) -> const nlohmann::json& {
    if (!object.contains(key) || !check(object.at(key))) fail(path, std::string("'") + key + "' must be " + what);
    return object.at(key);
  };
  auto is_string = [](const nlohmann::json& j) { return j.is_string(); };
  auto is_count = [](const nlohmann::json& j) { return j.is_number_unsigned(); };
  TokenIndex index;
  index.tokenizer_id = field(json, "tokenizer_id", is_string, "a string").get<std::string>();
  index.vocab_size = field(json, "vocab_size", is_count, "a positive integer").get<uint64_t>();
  const uint64_t token_bytes = field(json, "token_bytes", is_count, "2 or 4").get<uint64_t>();
  if (token_bytes != 2 && token_bytes != 4) fail(path, "'token_bytes' must be 2 or 4");
  index.token_bytes = static_cast<uint32_t>(token_bytes);
  if (index.vocab_size == 0 || index.vocab_size > (token_bytes == 2 ? 65536u : uint64_t{INT32_MAX}))
    fail(path, "'vocab_size' " + std::to_string(index.vocab_size) + " does not fit " + std::to_string(token_bytes) +
                   "-byte tokens");
  index.val_fraction =
      field(json, "val_fraction", [](const nlohmann::json& j) { return j.is_number(); }, "a number").get<double>();
  if (!(index.val_fraction > 0 && index.val_fraction < 1)) fail(path, "'val_fraction' must be in (0, 1)");
  const nlohmann::json& shards =
      field(json, "shards", [](const nlohmann::json& j) { return j.is_array() && !j.empty(); }, "a non-empty list");
  if (shards.size() > kMaxShards) fail(path, "lists over " + std::to_string(kMaxShards) + " shards (corrupt)");
  std::set<std::string> seen;
  for (const auto& entry : shards) {
    if (!entry.is_object()) fail(path, "a shard entry is not an object");
    TokenShardEntry s;
    s.file = field(entry, "file", is_string, "a file name").get<std::string>();
    if (!plain_file_name(s.file) || s.file == kTokenIndexFile || !seen.insert(s.file).second)
      fail(path, "shard file '" + s.file + "' is not a plain, unique file name (corrupt)");
    s.source = field(entry, "source", is_string, "a path").get<std::string>();
    if (!parse_hex64(field(entry, "fingerprint", is_string, "16 hex digits").get<std::string>(), s.fingerprint))
      fail(path, "the fingerprint of " + s.file + " is not 16 lower-case hex digits");
    s.tokens = field(entry, "tokens", is_count, "a token count").get<uint64_t>();
    index.shards.push_back(std::move(s));
  }
  return index;
}

}  // namespace ternary
