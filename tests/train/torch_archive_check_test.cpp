// The torch-archive pre-check (LibTorch-free): a checkpoint archive whose `version` record LibTorch
// would abort on is an error naming the file, and real archives pass.
#include "train/torch_archive_check.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace ternary {
namespace {

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

const std::string kFuzz = std::string(TERNARY_SOURCE_DIR) + "/tests/fuzz/";

}  // namespace

TEST(TorchArchiveCheck, RealArchivesPass) {
  EXPECT_NO_THROW(check_torch_archive(read(kFuzz + "corpus/checkpoint/trainer.pt"), "trainer.pt"));
}

// Was: SIGABRT inside LibTorch ("Couldn't parse the version abc as Long Long") in ternary-export
// and --resume; 15 of 300 mutated archives did this.
TEST(TorchArchiveCheck, ANonNumericVersionRecordIsAnError) {
  const std::string bad = read(kFuzz + "regressions/checkpoint/non_numeric_version_trainer.pt");
  try {
    check_torch_archive(bad, "run/trainer.pt");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "run/trainer.pt: record archive/version is not a version number (corrupt torch archive; use another "
              "checkpoint)");
  }
  EXPECT_THROW(check_torch_archive("PK not a zip at all", "x.pt"), std::runtime_error);
  EXPECT_THROW(check_torch_archive(std::string_view(bad).substr(0, bad.size() / 2), "x.pt"), std::runtime_error);
}

}  // namespace ternary
