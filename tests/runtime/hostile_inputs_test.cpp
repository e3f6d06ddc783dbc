// Regression tests for what a hostile or damaged model file did to the runtime (issue 11): each
// is a one-line error naming the problem, never a crash, a bad_alloc or NUL bytes on stdout.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "export/gguf_writer.h"
#include "runtime/gguf_file.h"
#include "runtime/llama_runtime.h"
#include "runtime/perplexity.h"
#include "runtime/sampler.h"

namespace ternary::runtime {
namespace {

const std::string kGolden = std::string(TERNARY_SOURCE_DIR) + "/tests/golden/tiny_llama_tq2_0.gguf";

// A copy of the golden file with `edit` applied to its metadata and tensor bytes.
std::string mutated(const std::string& name,
                    const std::function<void(std::map<std::string, gguf::Value>&,
                                             std::map<std::string, std::vector<uint8_t>>&)>& edit) {
  const gguf::File source(kGolden);
  std::map<std::string, gguf::Value> metadata = source.metadata();
  std::map<std::string, std::vector<uint8_t>> data;
  for (const gguf::TensorInfo& t : source.tensors()) data[t.name].assign(t.data, t.data + t.bytes);
  edit(metadata, data);
  gguf::Writer w;
  for (const auto& [key, value] : metadata) w.set(key, value);
  for (const gguf::TensorInfo& t : source.tensors()) w.add_tensor(t.name, t.dims, t.type, data.at(t.name));
  const std::string path = ::testing::TempDir() + "/" + name;
  w.write(path);
  return path;
}

std::string error_of(const std::function<void()>& run) {
  try {
    run();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

void fill_nan(std::vector<uint8_t>& bytes) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (size_t i = 0; i + 4 <= bytes.size(); i += 4) std::memcpy(bytes.data() + i, &nan, 4);
}

}  // namespace

// Was: a heap read out of bounds in Sampler::sample, NUL bytes printed, exit 0.
TEST(HostileModel, NonFiniteLogitsAreAnErrorWhenSamplingAndInPerplexity) {
  const std::string path = mutated("nan_norm.gguf", [](auto&, auto& data) { fill_nan(data.at(gguf::kOutputNorm)); });
  LlamaRuntime rt(path);
  const std::vector<float> logits = rt.forward({1, 2, 3});
  Sampler sampler({0.8, 40, 0.95, 1});
  EXPECT_NE(error_of([&] { sampler.sample(logits.data(), rt.shape().vocab_size); }).find("non-finite logit"),
            std::string::npos);
  Sampler greedy({0.0, 0, 1.0, 1});
  EXPECT_NE(error_of([&] { greedy.sample(logits.data(), rt.shape().vocab_size); }).find("non-finite logit"),
            std::string::npos);
  std::vector<int32_t> text(100, 7);
  EXPECT_NE(error_of([&] { perplexity(rt, text, 32); }).find("perplexity is not finite"), std::string::npos);
}

// Found by the GGUF fuzzer: NaN activations reaching a ternary layer were cast to int8 (undefined).
// They now give NaN logits, which the sampler reports.
TEST(HostileModel, NanActivationsIntoTernaryLayersGiveNanLogits) {
  const std::string path = mutated("nan_attn_norm.gguf", [](auto&, auto& data) {
    fill_nan(data.at(gguf::tensor_name(0, gguf::LayerTensor::kAttnNorm)));
  });
  LlamaRuntime rt(path);
  const std::vector<float> logits = rt.forward({1, 2});
  EXPECT_TRUE(std::isnan(logits[0]));
  Sampler sampler({0.8, 40, 0.95, 1});
  EXPECT_NE(error_of([&] { sampler.sample(logits.data(), rt.shape().vocab_size); }).find("non-finite logit"),
            std::string::npos);
}

// Was: 4.2 GB of KV cache for a 1.4 MB file at 2^19, std::bad_alloc at 2^20.
TEST(HostileModel, AHugeContextLengthCostsOnlyWhatTheRunUses) {
  const std::string path = mutated("long_context.gguf", [](auto& metadata, auto&) {
    metadata[gguf::architecture_key("llama", gguf::key::kContextLength)] = gguf::Value::u32(1u << 20);
  });
  LlamaRuntime rt(path);
  EXPECT_EQ(rt.shape().context_length, 1 << 20);
  EXPECT_EQ(rt.forward({1, 2, 3}).size(), static_cast<size_t>(rt.shape().vocab_size));
  const std::string absurd = mutated("absurd_context.gguf", [](auto& metadata, auto&) {
    metadata[gguf::architecture_key("llama", gguf::key::kContextLength)] = gguf::Value::u32(1u << 31);
  });
  EXPECT_NE(error_of([&] { LlamaRuntime r(absurd); }).find("llama.context_length is 2147483648, outside 1..16777216"),
            std::string::npos);
  const std::string layers = mutated("absurd_layers.gguf", [](auto& metadata, auto&) {
    metadata[gguf::architecture_key("llama", gguf::key::kBlockCount)] = gguf::Value::u32(1u << 30);
  });
  EXPECT_NE(error_of([&] { LlamaRuntime r(layers); }).find("llama.block_count is 1073741824, outside"),
            std::string::npos);
}

// Was: "std::get: wrong index for variant".
TEST(HostileModel, WronglyTypedMetadataNamesTheKey) {
  const std::string path = mutated("int_scales.gguf", [](auto& metadata, auto&) {
    for (auto& [key, value] : metadata)
      if (key.rfind("ternary.scale.", 0) == 0) value = gguf::Value::i32s({1});
  });
  const std::string error = error_of([&] { LlamaRuntime r(path); });
  EXPECT_NE(error.find("ternary.scale.blk.0."), std::string::npos) << error;
  EXPECT_NE(error.find("must be an array of float32 scales"), std::string::npos) << error;
  const std::string eps = mutated("bad_eps.gguf", [](auto& metadata, auto&) {
    metadata[gguf::key::kActivationScaleEps] = gguf::Value::f32(-1.0f);
  });
  EXPECT_NE(error_of([&] { LlamaRuntime r(eps); }).find("ternary.activation.scale_eps must be a positive number"),
            std::string::npos);
}

}  // namespace ternary::runtime
