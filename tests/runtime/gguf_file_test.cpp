#include "runtime/gguf_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "export/gguf_writer.h"
#include "runtime/sampler.h"

namespace ternary::gguf {
namespace {

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "/" + name; }

std::string write_sample(const std::string& name) {
  Writer w;
  w.set("general.architecture", Value::string("llama"));
  w.set("answer", Value::u32(42));
  w.set("pi", Value::f32(3.25f));
  w.set("flag", Value::boolean(true));
  w.set("names", Value::strings({"a", "bc", ""}));
  w.set("weights", Value::f32s({0.5, -1.0}));
  w.set("ids", Value::i32s({1, -2, 3}));
  std::vector<uint8_t> f32(4 * 3 * 4);
  for (size_t i = 0; i < f32.size(); ++i) f32[i] = static_cast<uint8_t>(i);
  w.add_tensor("matrix", {4, 3}, TensorType::kF32, f32);
  w.add_tensor("ternary", {256, 2}, TensorType::kTQ2_0, std::vector<uint8_t>(132, 0x55));
  w.add_tensor("ternary1", {512}, TensorType::kTQ1_0, std::vector<uint8_t>(108, 7));
  const std::string path = temp_path(name);
  w.write(path);
  return path;
}

std::string error_of(const std::string& path) {
  try {
    File f(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(GgufFile, WriterAndReaderRoundTrip) {
  const File f(write_sample("round_trip.gguf"));
  EXPECT_EQ(f.string("general.architecture"), "llama");
  EXPECT_EQ(f.integer("answer"), 42);
  EXPECT_EQ(f.number("pi"), 3.25);
  EXPECT_TRUE(std::get<bool>(f.value("flag").data));
  EXPECT_EQ(std::get<std::vector<std::string>>(f.value("names").data), (std::vector<std::string>{"a", "bc", ""}));
  EXPECT_EQ(std::get<std::vector<double>>(f.value("weights").data), (std::vector<double>{0.5, -1.0}));
  EXPECT_EQ(std::get<std::vector<int64_t>>(f.value("ids").data), (std::vector<int64_t>{1, -2, 3}));
  ASSERT_EQ(f.tensors().size(), 3u);
  const TensorInfo& m = f.tensor("matrix");
  EXPECT_EQ(m.dims, (std::vector<uint64_t>{4, 3}));
  EXPECT_EQ(m.bytes, 48u);
  for (int i = 0; i < 48; ++i) EXPECT_EQ(m.data[i], i);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.tensor("ternary").data) % 32, 0u);  // aligned
  EXPECT_EQ(f.tensor("ternary").bytes, 132u);
  EXPECT_EQ(f.tensor("ternary1").bytes, 108u);
  EXPECT_EQ(f.tensor("ternary1").data[107], 7);
  EXPECT_THROW(f.tensor("missing"), std::runtime_error);
  EXPECT_THROW(f.integer("pi"), std::runtime_error);
}

TEST(GgufFile, WriterRefusesShapesItsTypeCannotHold) {
  Writer w;
  EXPECT_THROW(w.add_tensor("t", {100, 2}, TensorType::kTQ2_0, std::vector<uint8_t>(66)), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("t", {4}, TensorType::kF32, std::vector<uint8_t>(15)), std::invalid_argument);
}

TEST(GgufFile, BadFilesAreClearErrorsNeverCrashes) {
  const std::string good = write_sample("good.gguf");
  std::ifstream in(good, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto variant = [&](const std::string& name, const std::string& content) {
    const std::string path = temp_path(name);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    return error_of(path);
  };
  EXPECT_NE(error_of(temp_path("nope.gguf")).find("cannot open the model file"), std::string::npos);
  EXPECT_NE(variant("empty.gguf", "").find("not a GGUF file"), std::string::npos);
  EXPECT_NE(variant("magic.gguf", "GGML" + bytes.substr(4)).find("not a GGUF file (bad magic)"), std::string::npos);
  std::string v2 = bytes;
  v2[4] = 2;
  EXPECT_NE(variant("v2.gguf", v2).find("GGUF version 2 is not supported"), std::string::npos);
  // Every truncation that loses a byte of header or data gives an error, never a crash (the last
  // 20 bytes are the final tensor's alignment padding).
  for (size_t cut = 0; cut < bytes.size() - 20; cut += 7) {
    const std::string message = variant("cut.gguf", bytes.substr(0, cut));
    EXPECT_FALSE(message.empty()) << "truncated at " << cut;
  }
  EXPECT_NE(variant("short.gguf", bytes.substr(0, bytes.size() - 30)).find("beyond the end of the file (truncated?)"),
            std::string::npos);
  // An unknown tensor type: patch the uint32 after "ternary"'s dims.
  std::string unknown = bytes;
  const size_t at = unknown.find("ternary") + 7 + 4 + 16;  // name, n_dims, 2 dims
  const uint32_t ninety_nine = 99;
  std::memcpy(&unknown[at], &ninety_nine, 4);
  EXPECT_NE(variant("type.gguf", unknown).find("has ggml type 99, which this runtime does not support"),
            std::string::npos);
}

TEST(Sampler, GreedyTopKAndSeeds) {
  const std::vector<float> logits = {0.1f, 2.0f, 1.9f, -5.0f};
  ternary::runtime::Sampler greedy({0.0, 0, 1.0, 0});
  EXPECT_EQ(greedy.sample(logits.data(), 4), 1);
  ternary::runtime::Sampler top1({1.0, 1, 1.0, 7});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(top1.sample(logits.data(), 4), 1);
  ternary::runtime::Sampler a({1.0, 0, 1.0, 3}), b({1.0, 0, 1.0, 3});
  int seen_two = 0;
  for (int i = 0; i < 200; ++i) {
    const int32_t x = a.sample(logits.data(), 4);
    EXPECT_EQ(x, b.sample(logits.data(), 4));  // same seed, same draws
    EXPECT_NE(x, 3);  // exp(-7) is possible but, at these odds over 200 draws, not expected
    seen_two += x == 2;
  }
  EXPECT_GT(seen_two, 50);
  ternary::runtime::Sampler nucleus({1.0, 0, 0.4, 1});  // the best token has p = 0.49 > 0.4: only it stays
  for (int i = 0; i < 20; ++i) EXPECT_EQ(nucleus.sample(logits.data(), 4), 1);
  EXPECT_THROW(ternary::runtime::Sampler({-1.0, 0, 1.0, 0}), std::invalid_argument);
  EXPECT_THROW(ternary::runtime::Sampler({1.0, 0, 0.0, 0}), std::invalid_argument);
}

}  // namespace ternary::gguf
