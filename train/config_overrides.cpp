#include "train/config_overrides.h"

#include <yaml-cpp/yaml.h>

#include "common/config_error.h"
#include "quantizers/yaml_reader.h"

namespace ternary {
namespace {

// A copy of `node` whose nodes have no mark (fresh nodes), so errors point at the override.
YAML::Node unmarked_copy(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return YAML::Node(node.Scalar());
    case YAML::NodeType::Sequence: {
      YAML::Node copy(YAML::NodeType::Sequence);
      for (const auto& item : node) copy.push_back(unmarked_copy(item));
      return copy;
    }
    case YAML::NodeType::Map: {
      YAML::Node copy(YAML::NodeType::Map);
      for (const auto& entry : node) copy[entry.first.Scalar()] = unmarked_copy(entry.second);
      return copy;
    }
    default:
      return YAML::Node(YAML::NodeType::Null);
  }
}

}  // namespace

void apply_override(YAML::Node& root, const std::string& assignment) {
  const auto equals = assignment.find('=');
  const std::string path = assignment.substr(0, equals);
  if (equals == std::string::npos || path.empty() || path.front() == '.' || path.back() == '.' ||
      path.find("..") != std::string::npos)
    throw ConfigError("--set " + assignment + ": expected section.key=value, e.g. --set optimizer.lr=3e-4");
  const std::string text = assignment.substr(equals + 1);
  if (const auto problem = text_problem(assignment)) throw ConfigError("--set " + assignment + ": " + problem->describe());
  YAML::Node value;
  try {
    value = unmarked_copy(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    throw ConfigError("--set " + assignment + ": the value is not valid YAML (" + e.msg + ")");
  }
  if (value.IsNull()) throw ConfigError("--set " + assignment + ": missing value after '='");

  // Walk (creating maps as needed) to the parent of the last key. Node::reset rebinds a handle;
  // operator= would overwrite the node it refers to.
  YAML::Node parent;
  parent.reset(root);
  size_t start = 0;
  for (size_t dot = path.find('.'); dot != std::string::npos; start = dot + 1, dot = path.find('.', start)) {
    const std::string key = path.substr(start, dot - start);
    if (!parent[key] || !parent[key].IsMap()) parent[key] = YAML::Node(YAML::NodeType::Map);
    YAML::Node child = parent[key];
    parent.reset(child);
  }
  parent[path.substr(start)] = value;
}

}  // namespace ternary
