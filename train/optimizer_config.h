// The `optimizer:` section of a training config (train/make_optimizer.h builds the optimizer).
//   optimizer: {name: adamw8bit, lr: 3.0e-4, betas: [0.9, 0.95], eps: 1.0e-8, weight_decay: 0.1}
// Names: adamw8bit (default), adam8bit, sgd8bit, lion8bit, and the fp32 LibTorch baselines adamw,
// sgd. Unknown names, keys that the chosen optimizer does not take, and bad values are
// ConfigErrors naming the file, line and key. LibTorch-free.
#pragma once

#include <cstdint>
#include <string>

namespace YAML {
class Emitter;
class Node;
}

namespace ternary {

class YamlReader;
template <typename S>
class ConfigSchema;

enum class OptimizerName { kAdamW8bit, kAdam8bit, kSgd8bit, kLion8bit, kAdamW, kSgd };
const char* to_string(OptimizerName name);
bool is_8bit(OptimizerName name);  // blockwise 8-bit state (optim/)

struct OptimizerConfig {
  OptimizerName name = OptimizerName::kAdamW8bit;
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;  // when not given: 1e-2 for adamw8bit/adamw, 0 for the others
  double momentum = 0.9;        // sgd8bit, sgd
  int64_t min_8bit_size = 4096;  // 8-bit optimizers
  bool shard_state = false;      // 8-bit optimizers, data-parallel runs: each rank keeps 1/N of the state (ZeRO-1)
  bool step_in_backward = false;  // 8-bit optimizers: update each parameter as backward completes its gradient
  bool operator==(const OptimizerConfig&) const = default;

  // Throws ConfigError ("file:line: optimizer.key: ...") naming the bad key or value.
  static OptimizerConfig from_yaml(const YAML::Node& node, const std::string& source_name);
  // The `optimizer` section of a whole config.
  static OptimizerConfig from_config(const YAML::Node& root, const YamlReader& reader);
  // The keys this optimizer takes, into an open YAML map (--dump-config, checkpoints).
  void to_yaml(YAML::Emitter& out) const;
  static const ConfigSchema<OptimizerConfig>& schema();
};

}  // namespace ternary
