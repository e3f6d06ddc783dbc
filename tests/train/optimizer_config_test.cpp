#include "train/optimizer_config.h"

#include "train/make_optimizer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <yaml-cpp/yaml.h>

#include "optim/adamw8bit.h"
#include "optim/lion8bit.h"
#include "optim/sgd8bit.h"
#include "quantizers/recipe.h"

namespace ternary {
namespace {

OptimizerConfig parse(const std::string& yaml) {
  return OptimizerConfig::from_yaml(YAML::Load(yaml), "config.yaml");
}

std::string error_of(const std::string& yaml) {
  try {
    parse(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

double group_weight_decay(const torch::optim::Optimizer& opt, size_t group) {
  const auto& options = opt.param_groups()[group].options();
  if (auto* o = dynamic_cast<const AdamW8bitOptions*>(&options)) return o->weight_decay();
  if (auto* o = dynamic_cast<const SGD8bitOptions*>(&options)) return o->weight_decay();
  if (auto* o = dynamic_cast<const Lion8bitOptions*>(&options)) return o->weight_decay();
  if (auto* o = dynamic_cast<const torch::optim::AdamWOptions*>(&options)) return o->weight_decay();
  if (auto* o = dynamic_cast<const torch::optim::SGDOptions*>(&options)) return o->weight_decay();
  return -1;
}

}  // namespace

TEST(OptimizerConfig, ParsesEveryKey) {
  const auto c = parse("{name: adamw8bit, lr: 3.0e-4, betas: [0.9, 0.95], eps: 1.0e-6, weight_decay: 0.1, "
                       "min_8bit_size: 1024}");
  EXPECT_EQ(c.name, OptimizerName::kAdamW8bit);
  EXPECT_DOUBLE_EQ(c.lr, 3e-4);
  EXPECT_DOUBLE_EQ(c.beta2, 0.95);
  EXPECT_DOUBLE_EQ(c.eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.weight_decay, 0.1);
  EXPECT_EQ(c.min_8bit_size, 1024);
  EXPECT_DOUBLE_EQ(parse("{name: adamw8bit}").weight_decay, 1e-2);
  EXPECT_DOUBLE_EQ(parse("{name: lion8bit}").weight_decay, 0.0);
  EXPECT_EQ(parse("{lr: 1.0e-3}").name, OptimizerName::kAdamW8bit);  // the default
}

TEST(OptimizerConfig, MakesEachOptimizerWithNoDecayGroup) {
  for (const char* name : {"adamw8bit", "adam8bit", "sgd8bit", "lion8bit", "adamw", "sgd"}) {
    const auto c = parse(std::string("{name: ") + name + ", lr: 0.01, weight_decay: 0.1}");
    auto opt = make_optimizer(c, {at::randn({64, 64}).requires_grad_()}, {at::randn({64}).requires_grad_()});
    ASSERT_EQ(opt->param_groups().size(), 2u) << name;
    EXPECT_DOUBLE_EQ(group_weight_decay(*opt, 0), 0.1) << name;
    EXPECT_DOUBLE_EQ(group_weight_decay(*opt, 1), 0.0) << name;
    EXPECT_DOUBLE_EQ(opt->param_groups()[1].options().get_lr(), 0.01) << name;
  }
  EXPECT_NE(dynamic_cast<AdamW8bit*>(make_optimizer(parse("{name: adam8bit}"), {at::randn({4}).requires_grad_()}).get()),
            nullptr);
}

TEST(OptimizerConfig, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(error_of("name: adamw9bit\n").rfind("config.yaml:1: optimizer.name: unknown value 'adamw9bit' (expected "
                                                "one of: adamw8bit, adam8bit, sgd8bit, lion8bit, adamw, sgd)", 0),
            0u);
  EXPECT_EQ(error_of("name: lion8bit\neps: 1.0e-8\n"),
            "config.yaml:2: unknown key 'eps' in optimizer 'lion8bit' (expected one of: name, lr, betas, "
            "weight_decay, min_8bit_size, shard_state, step_in_backward)");
  // Only the 8-bit optimizers shard their state.
  EXPECT_EQ(error_of("name: adamw\nshard_state: true\n"),
            "config.yaml:2: unknown key 'shard_state' in optimizer 'adamw' (expected one of: name, lr, betas, eps, "
            "weight_decay)");
  EXPECT_EQ(error_of("lr: fast\n"), "config.yaml:1: 'lr' must be a number, got 'fast'");
  EXPECT_EQ(error_of("lr: -1\n"), "config.yaml:1: optimizer.lr: must be >= 0, got -1");
  EXPECT_EQ(error_of("betas: [0.9]\n"), "config.yaml:1: optimizer.betas: must be a list of two numbers, e.g. [0.9, 0.95]");
  EXPECT_EQ(error_of("betas: [0.9, 1.5]\n"), "config.yaml:1: optimizer.betas: must each be in [0, 1), got [0.9, 1.5]");
  EXPECT_EQ(error_of("betas: [-0.1, 0.9]\n"), "config.yaml:1: optimizer.betas: must be >= 0, got -0.1");
  EXPECT_EQ(error_of("name: sgd8bit\nmomentum: 0\n"), "config.yaml:2: optimizer.momentum: must be > 0, got 0");
  EXPECT_EQ(error_of("eps: .nan\n"), "config.yaml:1: optimizer.eps: must be a finite number, got .nan");
}

}  // namespace ternary
