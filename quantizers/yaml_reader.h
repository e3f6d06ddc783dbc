// Reading user YAML (recipes, configs) with errors that name the file, line and key:
//   recipe.yaml:12: unknown key 'granularty' in 'weight' quantizer (expected one of: ...)
// Every failure throws ConfigError (common/config_error.h); recipe entry points rethrow it as
// RecipeError.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "common/config_error.h"

namespace ternary {

// The first thing in `text` that a YAML parse and dump would not give back unchanged: bytes that
// are not well-formed UTF-8 (RFC 3629), a Unicode noncharacter (yaml-cpp writes U+FFFD), or,
// unless allow_nul, a raw NUL (yaml-cpp misreads it). Config files and --set values are checked
// whole; parsed string values, where an escape may have put a NUL, with allow_nul.
struct TextProblem {
  enum Kind { kNotUtf8, kNoncharacter, kNul };
  size_t offset;
  Kind kind;
  char32_t value;  // the lead byte (kNotUtf8) or the code point
  std::string describe() const;  // "byte 25 (0xEE) is not UTF-8 text; save it as UTF-8"
};
std::optional<TextProblem> text_problem(const std::string& text, bool allow_nul = false);

class YamlReader {
 public:
  explicit YamlReader(std::string source) : source_(std::move(source)) {}

  // "file:line" of a node (yaml-cpp marks are 0-based). Nodes without a mark come from
  // command-line overrides: "file (--set)".
  std::string at(const YAML::Node& node) const;
  const std::string& source() const { return source_; }
  [[noreturn]] void fail(const YAML::Node& node, const std::string& message) const;
  // Every key of `map` must be in `allowed`; `what` names the map in the message.
  void check_keys(const YAML::Node& map, const std::vector<std::string>& allowed, const std::string& what) const;

  // A scalar of type T, or an error "'key' must be <type_name>, got '...'".
  template <typename T>
  T scalar(const YAML::Node& node, const std::string& key, const char* type_name) const {
    if (!node.IsScalar()) fail(node, "'" + key + "' must be " + type_name);
    if constexpr (std::is_same_v<T, std::string>) {  // escapes can spell what the file could not hold
      if (const auto problem = text_problem(node.Scalar(), /*allow_nul=*/true))
        fail(node, "'" + key + "': " + problem->describe());
    }
    try {
      return node.as<T>();
    } catch (const YAML::Exception&) {
      fail(node, "'" + key + "' must be " + type_name + ", got '" + node.Scalar() + "'");
    }
  }

  // One of the named options, or an error listing them.
  template <typename E>
  E choice(const YAML::Node& node, const std::string& key, const std::map<std::string, E>& options) const {
    const auto value = scalar<std::string>(node, key, "a string");
    const auto found = options.find(value);
    if (found != options.end()) return found->second;
    std::string names;
    for (const auto& [name, _] : options) names += (names.empty() ? "" : ", ") + name;
    fail(node, "unknown " + key + " '" + value + "' (expected one of: " + names + ")");
  }

  // Parses text, turning a syntax error into "source:line: YAML syntax error: ...".
  YAML::Node load(const std::string& text) const;

 private:
  std::string source_;
};

// The shortest text that parses back to exactly `value` ("0.9", not "0.90000000000000002"), for
// writing configs people read.
std::string yaml_number(double value);

}  // namespace ternary
