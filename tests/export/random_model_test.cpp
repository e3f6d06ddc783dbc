// ternary-export --random: a runnable model file of the config's shape, the same bytes for the
// same seed, and activations that stay in range through every layer.
#include "export/random_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "runtime/gguf_file.h"
#include "runtime/llama_runtime.h"

namespace ternary {
namespace {

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(RandomModel, RunsWithTheConfigShapeAndIsReproducible) {
  const std::string dir = ::testing::TempDir() + "/random_model_test";
  std::filesystem::create_directories(dir);
  TrainConfig config;
  config.model.dim = 256, config.model.n_layers = 3, config.model.n_heads = 4, config.model.n_kv_heads = 2;
  config.model.ffn_dim = 512, config.model.vocab_size = 1000, config.model.max_seq_len = 64;
  for (const gguf::TensorType output : {gguf::TensorType::kF32, gguf::TensorType::kQ8_0}) {
    const std::string path = dir + "/random_" + gguf::to_string(output) + ".gguf";
    const ExportSummary s = write_random_model(config, path, {gguf::TensorType::kTQ2_0, output, ""}, 7);
    EXPECT_EQ(s.ternary_tensors, 3 * 7);
    EXPECT_EQ(s.matrix_tensors, 2);
    runtime::LlamaRuntime model(path);
    EXPECT_EQ(model.shape().vocab_size, 1000);
    EXPECT_EQ(model.shape().n_kv_heads, 2);
    EXPECT_EQ(model.file().tensor(gguf::kOutput).type, output);
    const std::vector<float> logits = model.forward({1, 2, 3, 500, 999}, /*all_logits=*/true);
    double sum = 0, squares = 0;
    for (float v : logits) {
      ASSERT_TRUE(std::isfinite(v));
      sum += v, squares += double{v} * v;
    }
    const double stddev = std::sqrt(squares / logits.size() - std::pow(sum / logits.size(), 2));
    EXPECT_GT(stddev, 0.3);  // the output is scaled for unit-variance logits
    EXPECT_LT(stddev, 3.0);
  }
  write_random_model(config, dir + "/again.gguf", {gguf::TensorType::kTQ2_0, gguf::TensorType::kF32, ""}, 7);
  write_random_model(config, dir + "/other.gguf", {gguf::TensorType::kTQ2_0, gguf::TensorType::kF32, ""}, 8);
  EXPECT_EQ(bytes_of(dir + "/again.gguf"), bytes_of(dir + "/random_F32.gguf"));
  EXPECT_NE(bytes_of(dir + "/other.gguf"), bytes_of(dir + "/random_F32.gguf"));
  // vocab_size: auto (0) is the tokenizer's, as in training (the bytes tokenizer: 256).
  config.model.vocab_size = 0;
  write_random_model(config, dir + "/auto.gguf", {gguf::TensorType::kTQ2_0, gguf::TensorType::kQ8_0, ""}, 7);
  runtime::LlamaRuntime automatic(dir + "/auto.gguf");
  EXPECT_EQ(automatic.shape().vocab_size, 256);
  EXPECT_EQ(automatic.forward({1, 255}).size(), 256u);
  config.model.ffn_dim = 500;
  EXPECT_THROW(write_random_model(config, dir + "/bad.gguf", {}, 0), std::runtime_error);
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad.gguf"));
}

}  // namespace
}  // namespace ternary
