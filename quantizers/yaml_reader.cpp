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
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (length == 0 || i + length > text.size() || (length == 2 && c < 0xC2)) return i;
    for (size_t k = 1; k < length; ++k)
      if ((static_cast<unsigned char>(text[i + k]) >> 6) != 0x2) return i;
    i += length;
  }
  return std::string::npos;
}

YAML::Node YamlReader::load(const std::string& text) const {
  // YAML is UTF-8; other bytes would come back changed from a dump (a resumed run's config).
  if (const size_t at = invalid_utf8_at(text); at != std::string::npos)
    throw ConfigError(source_ + ": byte " + std::to_string(at) + " is not UTF-8 text; save the file as UTF-8");
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
