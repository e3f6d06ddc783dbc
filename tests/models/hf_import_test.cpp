// Hugging Face import against transformers (tests/golden/hf_tiny_llama.py): a tiny random
// LlamaForCausalLM saved as fp32 and as sharded bf16 safetensors; our logits must match.
#include "models/hf_import.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "models/safetensors.h"

namespace ternary {
namespace {

const std::string kGolden = std::string(TERNARY_SOURCE_DIR) + "/tests/golden/";

nlohmann::json golden() { return nlohmann::json::parse(std::ifstream(kGolden + "hf_tiny_llama.json")); }

at::Tensor ids_of(const nlohmann::json& g) {
  std::vector<int64_t> flat;
  for (const auto& row : g["ids"])
    for (const auto& id : row) flat.push_back(id.get<int64_t>());
  return at::tensor(flat, at::kLong).view({static_cast<int64_t>(g["ids"].size()), -1});
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// A scratch copy of the fp32 golden model directory, for corrupting.
std::filesystem::path scratch_copy(const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(::testing::TempDir()) / name;
  fs::remove_all(dir);
  fs::copy(kGolden + "tiny_llama", dir);
  return dir;
}

}  // namespace

TEST(HfImport, ConfigJsonMapsToLlamaConfig) {
  const LlamaConfig c = llama_config_from_hf(kGolden + "tiny_llama/config.json");
  EXPECT_EQ(c.vocab_size, 96);
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.ffn_dim, 128);
  EXPECT_DOUBLE_EQ(c.norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.tie_embeddings);
}

// Max |our logits - transformers' logits| for a golden model directory and its recorded logits.
float logits_difference(const std::string& model_dir, const std::string& logits_key) {
  const auto g = golden();
  LlamaModel model = load_hf_llama(kGolden + model_dir, Recipe{});
  at::NoGradGuard no_grad;
  const at::Tensor ours = model->forward(ids_of(g));
  const at::Tensor theirs = at::tensor(g[logits_key].get<std::vector<float>>()).view(ours.sizes());
  return (ours - theirs).abs().max().item<float>();
}

TEST(HfImport, Fp32LogitsMatchTransformers) { EXPECT_LT(logits_difference("tiny_llama", "logits"), 1e-4); }

TEST(HfImport, ShardedBf16CheckpointMatchesTransformers) {
  EXPECT_LT(logits_difference("tiny_llama_bf16", "logits_bf16"), 1e-4);
}

TEST(HfImport, RecipeQuantizesTheImportedModel) {
  LlamaModel model = load_hf_llama(kGolden + "tiny_llama", Recipe::from_preset("lsq_ternary"));
  auto* q = model->layers[1]->as<LlamaDecoderLayerImpl>()->mlp->up_proj.get();
  ASSERT_TRUE(q->weight_quantizer);
  // learned scales were initialised from the imported weights, not the random init
  EXPECT_TRUE(at::allclose(q->weight_quantizer->scale, q->weight.abs().mean(1, true)));
}

TEST(HfImport, MissingAndCorruptInputsAreClearErrors) {
  EXPECT_NE(error_of([] { load_hf_llama("/nonexistent", Recipe{}); }).find("/nonexistent/config.json: cannot open"),
            std::string::npos);

  const auto truncated = scratch_copy("truncated_llama");
  std::filesystem::resize_file(truncated / "model.safetensors", 1000);
  EXPECT_NE(error_of([&] { load_hf_llama(truncated.string(), Recipe{}); }).find("truncated"), std::string::npos);

  const auto wrong_arch = scratch_copy("gpt2_like");
  std::ofstream(wrong_arch / "config.json") << R"({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]})";
  EXPECT_NE(error_of([&] { load_hf_llama(wrong_arch.string(), Recipe{}); }).find("model_type 'gpt2' is not supported"),
            std::string::npos);

  const auto bigger = scratch_copy("bigger_llama");
  auto cfg = nlohmann::json::parse(std::ifstream(bigger / "config.json"));
  cfg["num_hidden_layers"] = 3;
  std::ofstream(bigger / "config.json") << cfg.dump();
  EXPECT_NE(error_of([&] { load_hf_llama(bigger.string(), Recipe{}); })
                .find("checkpoint has no tensor 'model.layers.2.input_layernorm.weight'"),
            std::string::npos);

  const auto scaled = scratch_copy("scaled_rope");
  cfg = nlohmann::json::parse(std::ifstream(scaled / "config.json"));
  cfg["rope_parameters"]["rope_type"] = "yarn";
  std::ofstream(scaled / "config.json") << cfg.dump();
  EXPECT_NE(error_of([&] { load_hf_llama(scaled.string(), Recipe{}); }).find("rope_type 'yarn' is not supported"),
            std::string::npos);
}

TEST(Safetensors, RejectsGarbageHeaders) {
  const std::string path = ::testing::TempDir() + "/garbage.safetensors";
  std::ofstream(path, std::ios::binary) << std::string("\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}", 25);
  EXPECT_NE(error_of([&] { read_safetensors(path); }).find("header is not valid JSON"), std::string::npos);
  std::ofstream(path, std::ios::binary) << std::string("\xff\xff\xff\xff\x00\x00\x00\x00", 8);
  EXPECT_NE(error_of([&] { read_safetensors(path); }).find("exceeds the file"), std::string::npos);
  // Was: nlohmann's raw type_error text. Each names the tensor and the field.
  auto with_header = [&](const std::string& json, size_t data_bytes) {
    std::string file(8, '\0');
    const uint64_t n = json.size();
    std::memcpy(file.data(), &n, 8);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << file << json << std::string(data_bytes, '\0');
    return error_of([&] { read_safetensors(path); });
  };
  EXPECT_NE(with_header(R"({"w": {"dtype": 7, "shape": [2], "data_offsets": [0, 8]}})", 8).find("'w' has no dtype"),
            std::string::npos);
  EXPECT_NE(with_header(R"({"w": {"dtype": "F32", "shape": ["2"], "data_offsets": [0, 8]}})", 8).find("shape entry"),
            std::string::npos);
  EXPECT_NE(with_header(R"({"w": {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 8]}})", 8)
                .find("larger than the file"),
            std::string::npos);
  EXPECT_NE(with_header(R"([1, 2])", 0).find("not a JSON object"), std::string::npos);
  // Was: a NaN weight imported silently, later blamed on the learning rate.
  std::string nan_file = R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})";
  const uint64_t n = nan_file.size();
  std::string bytes(8, '\0');
  std::memcpy(bytes.data(), &n, 8);
  const float values[2] = {1.0f, std::numeric_limits<float>::quiet_NaN()};
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      << bytes << nan_file << std::string(reinterpret_cast<const char*>(values), 8);
  EXPECT_NE(error_of([&] { read_safetensors(path); }).find("tensor 'w' contains NaN or Inf"), std::string::npos);
}

}  // namespace ternary
