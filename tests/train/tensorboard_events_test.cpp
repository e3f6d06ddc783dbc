// TensorBoard event files: TFRecord framing with CRC-32C, and what the `tensorboard` package
// itself reads from them (tests/golden/tensorboard_events.py), resumed runs included.
#include "train/tensorboard_events.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "common/crc32c.h"

namespace ternary {
namespace {

namespace fs = std::filesystem;

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(Crc32c, KnownValues) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);  // the CRC-32C check value (RFC 3720, B.4)
  EXPECT_EQ(crc32c("", 0), 0u);
  const std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);  // RFC 3720 B.4: 32 bytes of zeros
}

// A run of 2 steps with an eval, then a run resumed from step 1 that writes step 2 again: the
// events as written (byte for byte the committed files) and as TensorBoard reads them (the
// resumed run's step 2 replaces the first run's).
TEST(TensorBoardEvents, TensorBoardReadsTheScalarsAndAResumeReplacesLaterSteps) {
  const char* out = std::getenv("TERNARY_GOLDEN_OUT");  // to regenerate: tests/golden/tensorboard_events.py
  const std::string dir = out ? std::string(out) : ::testing::TempDir() + "/tensorboard_events_test";
  fs::remove_all(dir);
  std::string first_path, resumed_path;
  {
    TensorBoardWriter first(dir, 1, [] { return 1764547200.25; });
    first.scalar("train/loss", 1, 2.5f);
    first.scalar("train/loss", 2, 2.25f);
    first.scalar("val/loss", 2, 2.4f);
    first_path = first.path();
  }
  {
    TensorBoardWriter resumed(dir, 2, [] { return 1764547300.5; });
    resumed.scalar("train/loss", 2, 9.0f);
    resumed_path = resumed.path();
  }
  const std::string golden = std::string(TERNARY_SOURCE_DIR) + "/tests/golden/tensorboard/";
  EXPECT_EQ(bytes_of(first_path), bytes_of(golden + "first.tfevents"));
  EXPECT_EQ(bytes_of(resumed_path), bytes_of(golden + "resumed.tfevents"));
  std::ifstream json_file(golden + "read_by_tensorboard.json");
  ASSERT_TRUE(json_file) << "tests/golden/tensorboard/read_by_tensorboard.json is missing";
  const auto seen = nlohmann::json::parse(json_file);
  EXPECT_EQ(seen.at("train/loss"), nlohmann::json::parse("[[1, 2.5], [2, 9.0]]"));
  EXPECT_EQ(seen.at("val/loss").size(), 0u);  // step 2 of the first run: purged by the resume at step 2
  EXPECT_EQ(seen.at("file_version"), 2.0);  // TensorBoard parsed "brain.Event:2" as event format 2
}

TEST(TensorBoardEvents, AnUnwritableDirectoryIsAClearError) {
  const std::string file = ::testing::TempDir() + "/tensorboard_not_a_dir";
  std::ofstream(file) << "x";
  try {
    TensorBoardWriter writer(file + "/sub", 1);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write TensorBoard events " + file + "/sub/events.out.tfevents."),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace ternary
