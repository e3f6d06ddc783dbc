#include "train/config_schema.h"

namespace ternary {

SectionNode::SectionNode(const YamlReader& reader, const YAML::Node& root, std::string name)
    : reader_(reader), name_(std::move(name)) {
  root_.reset(root);
  node_.reset(YAML::Node(YAML::NodeType::Undefined));  // absent section
  if (name_.empty()) node_.reset(root);
  else if (root[name_]) node_.reset(root[name_]);
}

YAML::Node SectionNode::get(const std::string& key) const {
  if (!node_ || !node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  return node_[key];
}

void SectionNode::fail(const std::string& key, const std::string& message) const {
  fail_at(key, qualified(key) + ": " + message);
}

void SectionNode::fail_at(const std::string& key, const std::string& message) const {
  const YAML::Node at = get(key);
  reader_.fail(at ? at : node_ ? node_ : root_, message);  // the key's line, else its section's, else the file
}

std::string format_number(double value) { return yaml_number(value); }

std::string join_names(const std::vector<std::string>& names) {
  std::string joined;
  for (const auto& n : names) joined += (joined.empty() ? "" : ", ") + n;
  return joined;
}

}  // namespace ternary
