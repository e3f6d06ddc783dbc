// Recipe: which modules get which quantizers, from YAML. Rules are tried in order and the first
// whose glob pattern matches a module's dotted name wins; `preset: none` keeps a module in full
// precision. Format and keys: docs/quantizers.md.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/config_error.h"
#include "quantizers/quantizer_spec.h"

namespace YAML {
class Node;
}

namespace ternary {

// A recipe that cannot be used; the message names the source, line and key. A ConfigError, so a
// recipe inside a training config fails like any other key.
class RecipeError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

// The quantizers of one module, Brevitas-style slots; an empty slot stays full precision.
struct QuantSlots {
  std::optional<QuantizerSpec> weight;
  std::optional<QuantizerSpec> input;
  std::optional<QuantizerSpec> output;
};

struct RecipeRule {
  std::vector<std::string> patterns;  // globs over dotted module names ("layers.*.mlp.*")
  bool keep_full_precision = false;   // `preset: none`
  QuantSlots slots;
  std::string origin;  // "file.yaml:12", for reports and errors
  bool matches(const std::string& module_name) const;
};

class Recipe {
 public:
  // Each throws RecipeError naming the source, line and offending key or value.
  static Recipe from_yaml_file(const std::string& path);
  static Recipe from_yaml_string(const std::string& text, const std::string& source_name = "<recipe>");
  // `node` is a sequence of rules, or a map with a `rules:` sequence (a config's quantization section).
  static Recipe from_yaml_node(const YAML::Node& node, const std::string& source_name);
  // The usual default: lm_head and embeddings in full precision, every other module `preset`;
  // "none" is the empty recipe (everything full precision), as `preset: none` in a config.
  static Recipe from_preset(const std::string& preset);

  // The first rule matching `module_name`, or nullptr when none does.
  const RecipeRule* match(const std::string& module_name) const;

  std::vector<RecipeRule> rules;
};

}  // namespace ternary
