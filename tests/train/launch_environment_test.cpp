#include "train/launch_environment.h"

#include <gtest/gtest.h>

#include <map>

namespace ternary {
namespace {

LaunchEnvironment read(const std::map<std::string, std::string>& variables) {
  return LaunchEnvironment::from_environment([&](const char* name) -> const char* {
    const auto it = variables.find(name);
    return it == variables.end() ? nullptr : it->second.c_str();
  });
}

void expect_error(const std::map<std::string, std::string>& variables, const std::string& expected) {
  try {
    read(variables);
    FAIL() << "accepted; expected: " << expected;
  } catch (const DistributedError& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
}

TEST(LaunchEnvironment, NoVariablesIsOneProcess) {
  const LaunchEnvironment env = read({{"MASTER_PORT", "1234"}});
  EXPECT_FALSE(env.distributed());
  EXPECT_EQ(env.rank, 0);
  EXPECT_EQ(env.world_size, 1);
}

TEST(LaunchEnvironment, ReadsTorchrunsVariables) {
  const LaunchEnvironment env = read({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"},
                                      {"LOCAL_WORLD_SIZE", "2"}, {"MASTER_ADDR", "10.0.0.7"}, {"MASTER_PORT", "29500"}});
  EXPECT_TRUE(env.distributed());
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.world_size, 4);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_world_size, 2);
  EXPECT_EQ(env.master_addr, "10.0.0.7");
  EXPECT_EQ(env.master_port, 29500);
  EXPECT_FALSE(env.loopback());
  // Without LOCAL_*: every rank on this machine.
  const LaunchEnvironment local = read({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"},
                                        {"MASTER_PORT", "29500"}});
  EXPECT_EQ(local.local_rank, 1);
  EXPECT_EQ(local.local_world_size, 2);
  EXPECT_TRUE(local.loopback());
}

TEST(LaunchEnvironment, EachMistakeNamesTheVariable) {
  const std::map<std::string, std::string> ok = {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"},
                                                 {"MASTER_PORT", "29500"}};
  auto with = [&](const std::string& key, const std::string& value) {
    auto v = ok;
    v[key] = value;
    return v;
  };
  auto without = [&](const std::string& key) {
    auto v = ok;
    v.erase(key);
    return v;
  };
  expect_error(without("WORLD_SIZE"), "RANK is set but WORLD_SIZE is not");
  expect_error(without("RANK"), "WORLD_SIZE is set but RANK is not");
  expect_error(with("RANK", "2"), "RANK=2 is not below WORLD_SIZE=2");
  expect_error(with("RANK", "one"), "RANK='one' is not an integer");
  expect_error(with("WORLD_SIZE", "0"), "WORLD_SIZE='0' is not an integer in 1..");
  expect_error(with("WORLD_SIZE", "2x"), "WORLD_SIZE='2x'");
  expect_error(with("MASTER_PORT", "70000"), "MASTER_PORT='70000'");
  expect_error(without("MASTER_PORT"), "MASTER_PORT is not set");
  expect_error(without("MASTER_ADDR"), "MASTER_ADDR is not set");
  expect_error(with("LOCAL_RANK", "5"), "LOCAL_RANK=5 is not below LOCAL_WORLD_SIZE=2");
}

}  // namespace
}  // namespace ternary
