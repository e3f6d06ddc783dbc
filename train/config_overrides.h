// `--set section.key=value` command-line overrides, applied to a parsed YAML config before it is
// read, so they go through the same validation as the file. The value is YAML ("3e-4",
// "[0.9, 0.95]", "bitnet"); the nodes it creates carry no file mark, so errors about them say
// "(--set)" instead of a line.
#pragma once

#include <string>

namespace YAML {
class Node;
}

namespace ternary {

// Throws ConfigError for a malformed assignment ("expected section.key=value").
void apply_override(YAML::Node& root, const std::string& assignment);

}  // namespace ternary
