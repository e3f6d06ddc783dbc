// data.text_files expansion (files, directories, globs) and the streaming corpus tokenizer:
// block cuts that change nothing for the byte tokenizer, the split and header, progress lines,
// and errors that leave no file behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "train/corpus_files.h"
#include "train/corpus_tokenization.h"
#include "train/token_index.h"

namespace ternary {
namespace {
namespace fs = std::filesystem;

std::string fresh_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/corpus_test/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST(CorpusFiles, FilesDirectoriesAndGlobsExpandSortedWithoutDuplicates) {
  const std::string d = fresh_dir("expand");
  write(d + "/b.txt", "b");
  write(d + "/a.txt", "a");
  write(d + "/sub/c.md", "c");
  write(d + "/.git/x.txt", "hidden directory");
  write(d + "/.hidden.txt", "hidden file");
  EXPECT_EQ(expand_text_files({d}), (std::vector<std::string>{d + "/a.txt", d + "/b.txt", d + "/sub/c.md"}));
  EXPECT_EQ(expand_text_files({d + "/*.txt", d + "/a.txt", d + "/s*"}),
            (std::vector<std::string>{d + "/a.txt", d + "/b.txt", d + "/sub/c.md"}));
  EXPECT_EQ(expand_text_files({d + "/b.txt", d + "/a.txt"}), (std::vector<std::string>{d + "/b.txt", d + "/a.txt"}));
  fs::create_directories(d + "/empty");
  auto error_of = [](const std::vector<std::string>& entries) -> std::string {
    try {
      expand_text_files(entries);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error_of({d + "/none.txt"}), "data.text_files: '" + d + "/none.txt' does not exist (check the path)");
  EXPECT_EQ(error_of({d + "/*.csv"}), "data.text_files: pattern '" + d + "/*.csv' matches no file (check it)");
  EXPECT_EQ(error_of({d + "/empty"}), "data.text_files: directory '" + d + "/empty' holds no files");
}

// Blocks are cut after their last newline; the byte tokenizer then gives the same tokens as one
// encode of the whole file, also across 4 MiB blocks and for a line longer than a block.
TEST(CorpusTokenization, StreamsBlocksIntoTheTokensOfTheWholeText) {
  const std::string d = fresh_dir("stream");
  std::string text;
  for (int i = 0; text.size() < (size_t{9} << 20); ++i) text += "line " + std::to_string(i) + " of the corpus\n";
  text += std::string(size_t{5} << 20, 'x');  // no newline for more than a block
  write(d + "/big.txt", text);
  write(d + "/small.txt", "tail");
  const Tokenizer bytes = Tokenizer::bytes();
  const std::vector<std::string> files = {d + "/big.txt", d + "/small.txt"};
  std::ostringstream progress;
  const uint64_t fingerprint = corpus_fingerprint(files, bytes, 0.1);
  const TokenFileHeader h = tokenize_corpus({files, d + "/out.tokens", 0.1, &progress}, bytes, fingerprint);
  const uint64_t n = text.size() + 4;
  EXPECT_EQ(h.n_train + h.n_val, n);
  EXPECT_EQ(h.n_val, static_cast<uint64_t>(static_cast<double>(n) * 0.1));
  EXPECT_EQ(h.fingerprint, fingerprint);
  const std::string file = read(d + "/out.tokens");
  ASSERT_EQ(file.size(), sizeof(TokenFileHeader) + 2 * n);
  EXPECT_NO_THROW(validate_token_file(file, d + "/out.tokens"));
  const auto* tokens = reinterpret_cast<const uint16_t*>(file.data() + sizeof(TokenFileHeader));
  const std::string all = text + "tail";
  for (size_t i = 0; i < all.size(); i += 4099) ASSERT_EQ(tokens[i], static_cast<uint8_t>(all[i])) << i;
  EXPECT_EQ(tokens[n - 1], 'l');
  EXPECT_NE(progress.str().find("tokenized 14.7 MB into " + std::to_string(n) + " tokens"), std::string::npos)
      << progress.str();
  // The fingerprint streams the same bytes: any change to a file changes it.
  write(d + "/small.txt", "tale");
  EXPECT_NE(corpus_fingerprint(files, bytes, 0.1), fingerprint);
}

TEST(CorpusTokenization, ACorpusTooSmallToSplitIsAnErrorAndWritesNothing) {
  const std::string d = fresh_dir("small");
  write(d + "/a.txt", "abc");
  try {
    tokenize_corpus({{d + "/a.txt"}, d + "/out.tokens", 0.1, nullptr}, Tokenizer::bytes(), 1);
    FAIL() << "3 tokens cannot be split";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "corpus of 3 tokens is too small for a train/val split");
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(d), fs::directory_iterator()), 1) << "only a.txt: no temporary left";
}

}  // namespace ternary

namespace ternary {

// --shards: one shard per file, tokenized in parallel, listed by index.json; a second run keeps
// the shards of unchanged files and rewrites the others; shards of files no longer given go.
TEST(CorpusTokenization, ShardsOneFilePerShardAndKeepUnchangedOnes) {
  const std::string d = fresh_dir("shards");
  write(d + "/in/a.txt", std::string(5000, 'a') + "\n");
  write(d + "/in/b.txt", "bbbb bbbb\n");
  write(d + "/in/c.txt", "");  // an empty file is an empty shard
  const Tokenizer bytes = Tokenizer::bytes();
  std::vector<std::string> files = expand_text_files({d + "/in"});
  std::ostringstream progress;
  const TokenIndex index = tokenize_corpus_shards({files, d + "/out", 0.1, 2, &progress}, bytes);
  ASSERT_EQ(index.shards.size(), 3u);
  EXPECT_EQ(index.shards[0].tokens, 5001u);
  EXPECT_EQ(index.shards[1].tokens, 10u);
  EXPECT_EQ(index.shards[2].tokens, 0u);
  EXPECT_EQ(index.shards[1].source, d + "/in/b.txt");
  EXPECT_EQ(parse_token_index(read(d + "/out/index.json"), "index.json"), index);
  const std::string shard_b = read(d + "/out/" + index.shards[1].file);
  const TokenFileHeader hb = validate_token_file(shard_b, "b", /*require_split=*/false);
  EXPECT_EQ(hb.n_train, 9u);
  EXPECT_EQ(hb.n_val, 1u);
  EXPECT_THROW(validate_token_file(shard_b, "b"), std::runtime_error) << "a whole corpus needs two of each";
  EXPECT_NE(progress.str().find("into 5011 tokens in 3 shards"), std::string::npos) << progress.str();

  const auto a_time = fs::last_write_time(d + "/out/shard_000000.tokens");
  write(d + "/in/b.txt", "changed\n");
  files.pop_back();  // c.txt no longer given
  const TokenIndex again = tokenize_corpus_shards({files, d + "/out", 0.1, 1, nullptr}, bytes);
  EXPECT_EQ(fs::last_write_time(d + "/out/shard_000000.tokens"), a_time) << "unchanged: kept";
  EXPECT_EQ(again.shards[1].tokens, 8u);
  EXPECT_FALSE(fs::exists(d + "/out/shard_000002.tokens")) << "the shard of a file no longer given";
}

TEST(TokenIndex, CorruptIndexesAreClearErrors) {
  TokenIndex index{"bytes", 256, 2, 0.1, {{"shard_000000.tokens", "a.txt", 0x0123456789abcdefULL, 10}}};
  const std::string good = token_index_json(index);
  EXPECT_EQ(parse_token_index(good, "i.json"), index);
  auto error_of = [](const std::string& text) -> std::string {
    try {
      parse_token_index(text, "i.json");
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  };
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
  };
  EXPECT_EQ(error_of("{"), "i.json: is corrupt (not a JSON object); run ternary-tokenizer encode again");
  EXPECT_EQ(error_of(replaced("\"shard_000000.tokens\"", "\"../x\"")),
            "i.json: shard file '../x' is not a plain, unique file name (corrupt); run ternary-tokenizer encode again");
  EXPECT_EQ(error_of(replaced("0123456789abcdef", "xyz")),
            "i.json: the fingerprint of shard_000000.tokens is not 16 lower-case hex digits; run ternary-tokenizer "
            "encode again");
  EXPECT_EQ(error_of(replaced("\"vocab_size\": 256", "\"vocab_size\": 70000")),
            "i.json: 'vocab_size' 70000 does not fit 2-byte tokens; run ternary-tokenizer encode again");
  EXPECT_EQ(error_of(replaced("\"version\": 1", "\"version\": 2")),
            "i.json: has an unsupported version (this build reads version 1); run ternary-tokenizer encode again");
}

}  // namespace ternary
