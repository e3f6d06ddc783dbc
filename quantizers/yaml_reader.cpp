#include "quantizers/yaml_reader.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace ternary {

std::string YamlReader::at(const YAML::Node& node) const {
  const auto mark = node.Mark();
  return mark.is_null() ? source_ + " (--set)" : source_ + ":" + std::to_string(mark.line + 1);
}

void YamlReader::fail(const YAML::Node& node, const std::string& message) const {
  throw ConfigError(at(node) + ": " + message);
}

void YamlReader::check_keys(const YAML::Node& map, const std::vector<std::string>& allowed,
                            const std::string& what) const {
  for (const auto& entry : map) {
    const auto key = entry.first.as<std::string>();
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string expected;
    for (const auto& a : allowed) expected += (expected.empty() ? "" : ", ") + a;
    fail(entry.first, "unknown key '" + key + "' in " + what + " (expected one of: " + expected + ")");
  }
}

std::optional<TextProblem> text_problem(const std::string& text, bool allow_nul) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  for (size_t i = 0; i < text.size();) {
    const unsigned lead = byte(i);
    const size_t length = lead < 0x80 ? 1 : lead < 0xC2 ? 0 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : lead < 0xF5 ? 4 : 0;
    if (length == 0 || i + length > text.size()) return TextProblem{i, TextProblem::kNotUtf8, lead};
    char32_t code = length == 1 ? lead : lead & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) return TextProblem{i, TextProblem::kNotUtf8, lead};
      code = (code << 6) | (byte(i + k) & 0x3F);
    }
    // RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF.
    static constexpr char32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[length] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF)
      return TextProblem{i, TextProblem::kNotUtf8, lead};
    // Noncharacters: yaml-cpp writes them as U+FFFD in quoted scalars.
    if ((code >= 0xFDD0 && code <= 0xFDEF) || (code & 0xFFFE) == 0xFFFE)
      return TextProblem{i, TextProblem::kNoncharacter, code};
    // yaml-cpp misreads a raw NUL in a plain scalar (NUL then 'N' becomes a lone 0x85 byte). Other
    // control characters survive (its emitter even writes DEL and NEL raw), so only NUL is refused.
    if (code == 0 && !allow_nul) return TextProblem{i, TextProblem::kNul, code};
    i += length;
  }
  return std::nullopt;
}

std::string TextProblem::describe() const {
  char code[16];
  std::snprintf(code, sizeof code, kind == kNotUtf8 ? "0x%02X" : "U+%04X", static_cast<unsigned>(value));
  const std::string where = "byte " + std::to_string(offset) + " (" + code + ")";
  switch (kind) {
    case kNotUtf8: return where + " is not UTF-8 text; save it as UTF-8";
    case kNoncharacter: return where + " is a Unicode noncharacter, which YAML tools do not keep; remove it";
    case kNul: return where + " is a NUL character; remove it, or write it as \\x00 in double quotes";
  }
  return where;
}

YAML::Node YamlReader::load(const std::string& text) const {
  // Anything else would come back changed from a dump (a resumed run's config).
  if (const auto problem = text_problem(text)) throw ConfigError(source_ + ": " + problem->describe());
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(source_ + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax error: " + e.msg);
  }
}

std::string yaml_number(double value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  return std::string(text, end);
}

}  // namespace ternary
