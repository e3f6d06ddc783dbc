#include "common/atomic_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/fnv1a.h"
#include "modules/quant_slot_names.h"

namespace ternary {
namespace {
namespace fs = std::filesystem;

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST(AtomicFile, WritesAndReplacesWithoutLeavingATemporary) {
  const fs::path dir = fresh_dir("atomic_replace");
  write_file_atomic((dir / "a.txt").string(), "first");
  EXPECT_EQ(read(dir / "a.txt"), "first");
  AtomicFileWriter out((dir / "a.txt").string());
  out.write("sec");
  out.write(std::string_view("ond"));
  EXPECT_EQ(read(dir / "a.txt"), "first");  // nothing visible before commit
  out.commit();
  EXPECT_EQ(read(dir / "a.txt"), "second");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST(AtomicFile, AnAbandonedWriteKeepsTheOldFile) {
  const fs::path dir = fresh_dir("atomic_abandon");
  write_file_atomic((dir / "a.txt").string(), "old");
  {
    AtomicFileWriter out((dir / "a.txt").string());
    out.write("half of the new");
  }  // an exception on the way: destroyed without commit
  EXPECT_EQ(read(dir / "a.txt"), "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST(AtomicFile, ErrorsNameThePath) {
  try {
    write_file_atomic("/nonexistent-dir/x.bin", "x");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("cannot write /nonexistent-dir/x.bin: ", 0), 0u) << e.what();
  }
}

TEST(Fnv1a, MatchesThePublishedTestVectors) {
  EXPECT_EQ(fnv1a("", 0), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a("a", 1), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a("foobar", 6), 0x85944171f73967e8ull);
  EXPECT_EQ(fnv1a("bar", 3, fnv1a("foo", 3)), fnv1a("foobar", 6));  // chaining
  EXPECT_EQ(fnv1a_hex("a", 1), "af63dc4c8601ec8c");
}

TEST(QuantSlotNames, QuantizerStateIsASlotComponent) {
  EXPECT_TRUE(is_quantizer_state("layers.0.mlp.up_proj.weight_quantizer.scale"));
  EXPECT_TRUE(is_quantizer_state("input_quantizer.threshold"));
  EXPECT_TRUE(is_quantizer_state("lm_head.output_quantizer.scale_neg"));
  EXPECT_FALSE(is_quantizer_state("layers.0.mlp.up_proj.weight"));
  EXPECT_FALSE(is_quantizer_state("my_weight_quantizer.scale"));  // only a whole component counts
  EXPECT_FALSE(is_quantizer_state("weight_quantizer"));           // the slot itself holds no tensor name
}

}  // namespace ternary
