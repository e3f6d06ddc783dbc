#include "quantizers/yaml_reader.h"

#include <algorithm>
#include <charconv>

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

size_t invalid_utf8_at(const std::string& text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  for (size_t i = 0; i < text.size();) {
    const unsigned lead = byte(i);
    const size_t length = lead < 0x80 ? 1 : lead < 0xC2 ? 0 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : lead < 0xF5 ? 4 : 0;
    if (length == 0 || i + length > text.size()) return i;
    char32_t code = length == 1 ? lead : lead & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) return i;
      code = (code << 6) | (byte(i + k) & 0x3F);
    }
    // RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF.
    static constexpr char32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[length] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) return i;
    // Noncharacters: yaml-cpp writes them as U+FFFD in quoted scalars.
    if ((code >= 0xFDD0 && code <= 0xFDEF) || (code & 0xFFFE) == 0xFFFE) return i;
    i += length;
  }
  return std::string::npos;
}

YAML::Node YamlReader::load(const std::string& text) const {
  // YAML is UTF-8; other bytes would come back changed from a dump (a resumed run's config).
  if (const size_t at = invalid_utf8_at(text); at != std::string::npos)
    throw ConfigError(source_ + ": byte " + std::to_string(at) + " is not UTF-8 text (ill-formed, or a Unicode noncharacter); save the file as UTF-8");
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
