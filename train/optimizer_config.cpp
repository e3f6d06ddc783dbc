#include "train/optimizer_config.h"

#include <yaml-cpp/yaml.h>

#include "train/config_schema.h"

namespace ternary {
namespace {

using Name = OptimizerName;

bool takes_eps(const OptimizerConfig& c) {
  return c.name == Name::kAdamW8bit || c.name == Name::kAdam8bit || c.name == Name::kAdamW;
}
bool takes_betas(const OptimizerConfig& c) { return takes_eps(c) || c.name == Name::kLion8bit; }
bool takes_momentum(const OptimizerConfig& c) { return c.name == Name::kSgd8bit || c.name == Name::kSgd; }
bool takes_min_8bit_size(const OptimizerConfig& c) { return is_8bit(c.name); }

ConfigSchema<OptimizerConfig>::Key betas_key() {
  return {"betas", "Adam / Lion β₁, β₂ (adamw8bit, adam8bit, lion8bit, adamw)", "two numbers in [0, 1)",
          [](const SectionNode& s, OptimizerConfig& c) {
            const YAML::Node betas = s.get("betas");
            if (!betas.IsSequence() || betas.size() != 2)
              s.fail("betas", "must be a list of two numbers, e.g. [0.9, 0.95]");
            constexpr double kInf = std::numeric_limits<double>::infinity();
            const double b1 = ConfigSchema<OptimizerConfig>::read_number(s, betas[0], "betas", 0.0, kInf);
            const double b2 = ConfigSchema<OptimizerConfig>::read_number(s, betas[1], "betas", 0.0, kInf);
            if (b1 >= 1.0 || b2 >= 1.0) s.fail("betas", "must each be in [0, 1), got [" + format_number(b1) + ", " +
                                                             format_number(b2) + "]");
            c.beta1 = b1, c.beta2 = b2;
          },
          [](YAML::Emitter& e, const OptimizerConfig& c) {
            e << YAML::Key << "betas" << YAML::Value << YAML::Flow
              << std::vector<std::string>{yaml_number(c.beta1), yaml_number(c.beta2)};
            return true;
          },
          [](const OptimizerConfig& c) {
            std::string shown = "[";
            shown += format_number(c.beta1);
            shown += ", ";
            shown += format_number(c.beta2);
            return shown + "]";
          }};
}

}  // namespace

const char* to_string(OptimizerName name) {
  switch (name) {
    case Name::kAdamW8bit: return "adamw8bit";
    case Name::kAdam8bit: return "adam8bit";
    case Name::kSgd8bit: return "sgd8bit";
    case Name::kLion8bit: return "lion8bit";
    case Name::kAdamW: return "adamw";
    case Name::kSgd: return "sgd";
  }
  return "?";
}

bool is_8bit(OptimizerName name) {
  return name == Name::kAdamW8bit || name == Name::kAdam8bit || name == Name::kSgd8bit || name == Name::kLion8bit;
}

const ConfigSchema<OptimizerConfig>& OptimizerConfig::schema() {
  static const ConfigSchema<OptimizerConfig> schema = [] {
    constexpr double kInf = std::numeric_limits<double>::infinity();
    ConfigSchema<OptimizerConfig> s("optimizer");
    s.choice("name", &OptimizerConfig::name,
             named({Name::kAdamW8bit, Name::kAdam8bit, Name::kSgd8bit, Name::kLion8bit, Name::kAdamW, Name::kSgd}),
             "8-bit-state optimizers, or the fp32 LibTorch baselines `adamw`, `sgd` ([optimizers.md](optimizers.md))")
        .number("lr", &OptimizerConfig::lr, 0.0, kInf, "peak learning rate (see `schedule`)")
        .custom(betas_key())
        .when(takes_betas)
        .number("eps", &OptimizerConfig::eps, 0.0, kInf, "Adam's ε (adamw8bit, adam8bit, adamw)")
        .when(takes_eps)
        .number("weight_decay", &OptimizerConfig::weight_decay, 0.0, kInf,
                "decoupled weight decay of matrices (not norms, biases, quantizer scales); default 0.01 for "
                "adamw8bit/adamw, 0 for the others")
        .number("momentum", &OptimizerConfig::momentum, 0.0, kInf, "SGD momentum (sgd8bit, sgd)",
                /*min_exclusive=*/true)
        .when(takes_momentum)
        .integer("min_8bit_size", &OptimizerConfig::min_8bit_size, 0, std::numeric_limits<int64_t>::max(),
                 "tensors with fewer elements keep fp32 state (8-bit optimizers)")
        .when(takes_min_8bit_size)
        .flag("shard_state", &OptimizerConfig::shard_state,
              "data-parallel runs: each rank keeps the state of its 1/N of the parameters, split at block "
              "boundaries (ZeRO stage 1; [distributed.md](distributed.md))")
        .when(takes_min_8bit_size)
        .flag("step_in_backward", &OptimizerConfig::step_in_backward,
              "update each parameter as soon as backward completes its gradient, then free the gradient: the "
              "full set of gradients never exists (one process, `grad_accum: 1`, no global-norm clipping; "
              "[scaling.md](scaling.md))")
        .when(takes_min_8bit_size)
        .label([](const OptimizerConfig& c) { return std::string("optimizer '") + to_string(c.name) + "'"; })
        .check([](const SectionNode& s, OptimizerConfig& c) {
          // AdamW's usual default is decoupled decay 0.01; the others default to none.
          if (!s.has("weight_decay")) c.weight_decay = c.name == Name::kAdamW8bit || c.name == Name::kAdamW ? 1e-2 : 0.0;
        });
    return s;
  }();
  return schema;
}

OptimizerConfig OptimizerConfig::from_yaml(const YAML::Node& node, const std::string& source_name) {
  YAML::Node root(YAML::NodeType::Map);
  root["optimizer"] = node;
  return from_config(root, YamlReader(source_name));
}

OptimizerConfig OptimizerConfig::from_config(const YAML::Node& root, const YamlReader& reader) {
  OptimizerConfig config;
  schema().parse(reader, root, config);
  return config;
}

void OptimizerConfig::to_yaml(YAML::Emitter& out) const { schema().dump(out, *this); }

}  // namespace ternary
