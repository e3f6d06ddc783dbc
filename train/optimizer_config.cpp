#include "train/optimizer_config.h"

#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <yaml-cpp/yaml.h>

#include <map>

#include "optim/adamw8bit.h"
#include "optim/lion8bit.h"
#include "optim/sgd8bit.h"
#include "quantizers/yaml_reader.h"

namespace ternary {
namespace {

// The keys each optimizer takes (besides `name`).
const std::map<std::string, std::vector<std::string>>& keys_by_optimizer() {
  static const std::map<std::string, std::vector<std::string>> keys = {
      {"adamw8bit", {"name", "lr", "betas", "eps", "weight_decay", "min_8bit_size"}},
      {"adam8bit", {"name", "lr", "betas", "eps", "weight_decay", "min_8bit_size"}},
      {"sgd8bit", {"name", "lr", "momentum", "weight_decay", "min_8bit_size"}},
      {"lion8bit", {"name", "lr", "betas", "weight_decay", "min_8bit_size"}},
      {"adamw", {"name", "lr", "betas", "eps", "weight_decay"}},
      {"sgd", {"name", "lr", "momentum", "weight_decay"}},
  };
  return keys;
}

// Two groups sharing `options`; the second with weight decay 0.
template <typename Options>
std::vector<torch::optim::OptimizerParamGroup> groups(const Options& options, std::vector<at::Tensor> decay,
                                                      std::vector<at::Tensor> no_decay) {
  std::vector<torch::optim::OptimizerParamGroup> result;
  result.emplace_back(std::move(decay), std::make_unique<Options>(options));
  if (!no_decay.empty()) {
    Options zero = options;
    zero.weight_decay(0.0);
    result.emplace_back(std::move(no_decay), std::make_unique<Options>(zero));
  }
  return result;
}

}  // namespace

OptimizerConfig OptimizerConfig::from_yaml(const YAML::Node& node, const std::string& source_name) {
  return from_yaml(node, YamlReader(source_name));
}

OptimizerConfig OptimizerConfig::from_yaml(const YAML::Node& node, const YamlReader& reader) {
  if (!node.IsMap()) reader.fail(node, "'optimizer' must be a map such as {name: adamw8bit, lr: 3.0e-4}");
  OptimizerConfig config;
  if (node["name"]) config.name = reader.scalar<std::string>(node["name"], "name", "an optimizer name");
  const auto found = keys_by_optimizer().find(config.name);
  if (found == keys_by_optimizer().end()) {
    std::string names;
    for (const auto& [name, _] : keys_by_optimizer()) names += (names.empty() ? "" : ", ") + name;
    reader.fail(node["name"], "unknown optimizer '" + config.name + "' (expected one of: " + names + ")");
  }
  reader.check_keys(node, found->second, "optimizer '" + config.name + "'");
  auto positive = [&](const char* key, double& field, bool allow_zero) {
    if (!node[key]) return;
    field = reader.scalar<double>(node[key], key, "a number");
    if (field < 0 || (!allow_zero && field == 0)) reader.fail(node[key], std::string("'") + key + "' must be " +
                                                                           (allow_zero ? ">= 0" : "> 0"));
  };
  positive("lr", config.lr, true);
  positive("eps", config.eps, true);
  // AdamW's usual default is decoupled decay 0.01; the others default to none.
  config.weight_decay = (config.name == "adamw8bit" || config.name == "adamw") ? 1e-2 : 0.0;
  positive("weight_decay", config.weight_decay, true);
  positive("momentum", config.momentum, false);
  if (const auto betas = node["betas"]) {
    if (!betas.IsSequence() || betas.size() != 2) reader.fail(betas, "'betas' must be a list of two numbers, e.g. [0.9, 0.95]");
    config.beta1 = reader.scalar<double>(betas[0], "betas", "a number");
    config.beta2 = reader.scalar<double>(betas[1], "betas", "a number");
    if (config.beta1 < 0 || config.beta1 >= 1 || config.beta2 < 0 || config.beta2 >= 1)
      reader.fail(betas, "'betas' must each be in [0, 1)");
  }
  if (const auto n = node["min_8bit_size"]) {
    config.min_8bit_size = reader.scalar<int64_t>(n, "min_8bit_size", "an integer");
    if (config.min_8bit_size < 0) reader.fail(n, "'min_8bit_size' must be >= 0");
  }
  return config;
}

void OptimizerConfig::to_yaml(YAML::Emitter& out) const {
  for (const auto& key : keys_by_optimizer().at(name)) {
    out << YAML::Key << key << YAML::Value;
    if (key == "name") out << name;
    else if (key == "lr") out << yaml_number(lr);
    else if (key == "betas") out << YAML::Flow << std::vector<std::string>{yaml_number(beta1), yaml_number(beta2)};
    else if (key == "eps") out << yaml_number(eps);
    else if (key == "weight_decay") out << yaml_number(weight_decay);
    else if (key == "momentum") out << yaml_number(momentum);
    else if (key == "min_8bit_size") out << min_8bit_size;
  }
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerConfig& c, std::vector<at::Tensor> decay,
                                                        std::vector<at::Tensor> no_decay) {
  const auto betas = std::make_tuple(c.beta1, c.beta2);
  if (c.name == "adamw8bit" || c.name == "adam8bit") {
    const auto options =
        AdamW8bitOptions(c.lr).betas(betas).eps(c.eps).weight_decay(c.weight_decay).min_8bit_size(c.min_8bit_size);
    return std::make_unique<AdamW8bit>(groups(options, std::move(decay), std::move(no_decay)), options);
  }
  if (c.name == "sgd8bit") {
    const auto options =
        SGD8bitOptions(c.lr).momentum(c.momentum).weight_decay(c.weight_decay).min_8bit_size(c.min_8bit_size);
    return std::make_unique<SGD8bit>(groups(options, std::move(decay), std::move(no_decay)), options);
  }
  if (c.name == "lion8bit") {
    const auto options = Lion8bitOptions(c.lr).betas(betas).weight_decay(c.weight_decay).min_8bit_size(c.min_8bit_size);
    return std::make_unique<Lion8bit>(groups(options, std::move(decay), std::move(no_decay)), options);
  }
  if (c.name == "adamw") {
    const auto options = torch::optim::AdamWOptions(c.lr).betas(betas).eps(c.eps).weight_decay(c.weight_decay);
    return std::make_unique<torch::optim::AdamW>(groups(options, std::move(decay), std::move(no_decay)), options);
  }
  if (c.name == "sgd") {
    // LibTorch treats a group value equal to the options' constructor default (weight_decay 0 for
    // SGD) as "unset" and replaces it with the optimizer's defaults; passing the no-decay options
    // as the defaults keeps the no-decay group at 0.
    const auto options = torch::optim::SGDOptions(c.lr).momentum(c.momentum).weight_decay(c.weight_decay);
    auto defaults = options;
    defaults.weight_decay(0.0);
    return std::make_unique<torch::optim::SGD>(groups(options, std::move(decay), std::move(no_decay)), defaults);
  }
  throw RecipeError("unknown optimizer '" + c.name + "'");
}

}  // namespace ternary
