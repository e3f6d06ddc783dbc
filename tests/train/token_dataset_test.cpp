#include "train/token_dataset.h"
#include "train/corpus_tokenization.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

namespace ternary {
namespace {

std::string write_text(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string corpus(int lines) {
  std::string text;
  for (int i = 0; i < lines; ++i) text += "line " + std::to_string(i) + ": the quick brown fox\n";
  return text;
}

}  // namespace

TEST(TokenDataset, SplitsTrainAndValAndKeepsTokens) {
  const std::string text = corpus(200);
  const TokenDatasetOptions options{{write_text("a.txt", text)}, ::testing::TempDir() + "/a.tok", 0.1};
  std::filesystem::remove(options.cache_path);
  const TokenDataset d = TokenDataset::prepare(options, Tokenizer::bytes());
  const auto n = static_cast<int64_t>(text.size());
  EXPECT_EQ(d.train_tokens() + d.val_tokens(), n);
  EXPECT_EQ(d.val_tokens(), static_cast<int64_t>(n * 0.1));
  EXPECT_EQ(d.vocab_size(), 256);
  const at::Tensor first = d.train_slice(0, 10);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(first[i].item<int64_t>(), static_cast<unsigned char>(text[i]));
}

TEST(TokenDataset, IsBuiltOnceAndRebuiltWhenTheSourceChanges) {
  const std::string path = write_text("b.txt", corpus(100));
  const TokenDatasetOptions options{{path}, ::testing::TempDir() + "/b.tok", 0.1};
  std::filesystem::remove(options.cache_path);
  const uint64_t first = TokenDataset::prepare(options, Tokenizer::bytes()).fingerprint();
  const auto written = std::filesystem::last_write_time(options.cache_path);
  EXPECT_EQ(TokenDataset::prepare(options, Tokenizer::bytes()).fingerprint(), first);
  EXPECT_EQ(std::filesystem::last_write_time(options.cache_path), written);  // reused, not rewritten
  write_text("b.txt", corpus(101));
  EXPECT_NE(TokenDataset::prepare(options, Tokenizer::bytes()).fingerprint(), first);
}

TEST(TokenDataset, CorruptFilesAreClearErrorsAndPrepareRebuildsThem) {
  const TokenDatasetOptions options{{write_text("c.txt", corpus(100))}, ::testing::TempDir() + "/c.tok", 0.1};
  TokenDataset::prepare(options, Tokenizer::bytes());
  std::filesystem::resize_file(options.cache_path, std::filesystem::file_size(options.cache_path) - 3);
  try {
    TokenDataset::open(options.cache_path);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated?); delete it to rebuild"), std::string::npos) << e.what();
  }
  EXPECT_GT(TokenDataset::prepare(options, Tokenizer::bytes()).train_tokens(), 0);
  std::ofstream(options.cache_path) << "garbage garbage garbage garbage garbage garbage garbage garbage "
                                       "garbage garbage garbage garbage garbage garbage garbage";
  EXPECT_THROW(TokenDataset::open(options.cache_path), std::runtime_error);
  EXPECT_THROW(TokenDataset::prepare({{"/nonexistent.txt"}, options.cache_path, 0.1}, Tokenizer::bytes()),
               std::runtime_error);
}

// Was: SIGSEGV. Header counts whose product with the token width wraps around to the file size,
// tokens past the vocabulary, a directory: each a one-line error naming the file.
TEST(TokenDataset, CraftedHeadersAreClearErrors) {
  const TokenDatasetOptions options{{write_text("d.txt", corpus(100))}, ::testing::TempDir() + "/d.tok", 0.1};
  TokenDataset::prepare(options, Tokenizer::bytes());
  std::string bytes;
  {
    std::ifstream in(options.cache_path, std::ios::binary);
    bytes.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  auto error_with = [&](const std::function<void(std::string&)>& edit) {
    std::string copy = bytes;
    edit(copy);
    const std::string path = ::testing::TempDir() + "/crafted.tok";
    std::ofstream(path, std::ios::binary) << copy;
    try {
      TokenDataset::open(path);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto put_u64 = [](std::string& s, size_t offset, uint64_t v) { std::memcpy(s.data() + offset, &v, 8); };
  // Header: magic 8, version 4, token_bytes 4, vocab 8 (@16), n_train 8 (@24), n_val 8 (@32), ...
  const uint64_t n_train = [&] { uint64_t v; std::memcpy(&v, bytes.data() + 24, 8); return v; }();
  const uint64_t n_val = [&] { uint64_t v; std::memcpy(&v, bytes.data() + 32, 8); return v; }();
  // (n_train + 2^63) * 2 wraps to n_train * 2: the old check passed it and read 2^64 bytes away.
  EXPECT_NE(error_with([&](std::string& s) { put_u64(s, 24, n_train + (uint64_t{1} << 63)); })
                .find("size does not match its header"),
            std::string::npos);
  EXPECT_NE(error_with([&](std::string& s) { put_u64(s, 32, ~uint64_t{0} - n_train + n_val + 1); })
                .find("size does not match its header"),
            std::string::npos);
  EXPECT_NE(error_with([&](std::string& s) { put_u64(s, 16, 0); }).find("vocabulary size 0"), std::string::npos);
  EXPECT_NE(error_with([&](std::string& s) { put_u64(s, 16, 10); }).find("outside its vocabulary of 10"),
            std::string::npos);
  EXPECT_EQ(error_with([](std::string&) {}), "no error");  // the untouched copy opens
  const std::string dir = ::testing::TempDir() + "/a_directory.tok";
  std::filesystem::create_directories(dir);
  try {
    TokenDataset::open(dir);
    FAIL();
  } catch (const std::runtime_error& e) {
    // A directory is a corpus of shards only with its index.
    EXPECT_NE(std::string(e.what()).find("index.json: is missing"), std::string::npos) << e.what();
  }
}

TEST(TokenDataset, TrainWindowsAreShiftedPairsAndReproducible) {
  const TokenDatasetOptions options{{write_text("d.txt", corpus(300))}, ::testing::TempDir() + "/d.tok", 0.1};
  const TokenDataset d = TokenDataset::prepare(options, Tokenizer::bytes());
  at::Generator g1 = at::make_generator<at::CPUGeneratorImpl>(7), g2 = at::make_generator<at::CPUGeneratorImpl>(7);
  const auto [x1, y1] = d.sample_train(4, 32, g1);
  const auto [x2, y2] = d.sample_train(4, 32, g2);
  EXPECT_TRUE(at::equal(x1, x2));
  EXPECT_EQ(x1.sizes(), (at::IntArrayRef{4, 32}));
  EXPECT_TRUE(at::equal(x1.slice(1, 1), y1.slice(1, 0, 31)));
}

TEST(TokenDataset, ValidationWindowsAreFixedAndCoverTheTail) {
  const TokenDatasetOptions options{{write_text("e.txt", corpus(300))}, ::testing::TempDir() + "/e.tok", 0.2};
  const TokenDataset d = TokenDataset::prepare(options, Tokenizer::bytes());
  const auto batches = d.val_batches(8, 16, 1000);
  int64_t windows = 0;
  for (const auto& [x, y] : batches) windows += x.size(0);
  EXPECT_EQ(windows, (d.val_tokens() - 1) / 16);
  const auto again = d.val_batches(8, 16, 1000);
  EXPECT_TRUE(at::equal(batches.back().first, again.back().first));
  EXPECT_EQ(d.val_batches(8, 16, 2).size(), 2u);
}

}  // namespace ternary

namespace ternary {

// A directory of shards reads as the concatenation of its shards' train parts and of their val
// parts; windows run across shard boundaries; a directory without its index (an interrupted
// encode) or with a shard rewritten behind the index's back is a clear error.
TEST(TokenDataset, ADirectoryOfShardsReadsAsItsShardsInOrder) {
  const std::string dir = ::testing::TempDir() + "/token_shards";
  std::filesystem::remove_all(dir);
  const std::string a = corpus(50), b = corpus(30);
  const std::vector<std::string> files = {write_text("shard_a.txt", a), write_text("shard_b.txt", b)};
  tokenize_corpus_shards({files, dir, 0.1, 2, nullptr}, Tokenizer::bytes());
  const TokenDataset d = TokenDataset::open(dir);
  const auto val_a = static_cast<int64_t>(static_cast<double>(a.size()) * 0.1);
  const auto val_b = static_cast<int64_t>(static_cast<double>(b.size()) * 0.1);
  const int64_t train_a = static_cast<int64_t>(a.size()) - val_a;
  EXPECT_EQ(d.train_tokens(), train_a + static_cast<int64_t>(b.size()) - val_b);
  EXPECT_EQ(d.val_tokens(), val_a + val_b);
  const std::string train_text = a.substr(0, train_a) + b.substr(0, b.size() - val_b);
  const at::Tensor across = d.train_slice(train_a - 5, 10);  // the last 5 of a's train part, the first 5 of b's
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(across[i].item<int64_t>(), static_cast<unsigned char>(train_text[train_a - 5 + i])) << i;
  const std::string val_text = a.substr(train_a) + b.substr(b.size() - val_b);
  ASSERT_GT(val_a, 100);
  ASSERT_LT(val_a, 200);
  const auto batches = d.val_batches(1, 100, 2);  // the second window starts in a's val part, ends in b's
  ASSERT_EQ(batches.size(), 2u);
  for (int64_t i = 0; i < 100; ++i)
    EXPECT_EQ(batches[1].first[0][i].item<int64_t>(), static_cast<unsigned char>(val_text[100 + i])) << i;

  std::filesystem::copy_file(dir + "/shard_000001.tokens", dir + "/saved.tokens");
  std::filesystem::copy_file(dir + "/shard_000000.tokens", dir + "/shard_000001.tokens",
                             std::filesystem::copy_options::overwrite_existing);
  try {
    TokenDataset::open(dir);
    FAIL() << "a shard that is not the one the index lists";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("shard_000001.tokens: does not match its entry in"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove(dir + "/index.json");
  try {
    TokenDataset::open(dir);
    FAIL() << "no index: an unfinished tokenization";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("index.json: is missing: the tokenization did not finish"), std::string::npos)
        << e.what();
  }
}

}  // namespace ternary
