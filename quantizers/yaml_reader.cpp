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

YAML::Node YamlReader::load(const std::string& text) const {
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
