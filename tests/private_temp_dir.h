// ctest runs every test in its own process, two at a time, and tests keep files under
// ::testing::TempDir(). Giving each process a private directory there means two tests that pick the
// same file name (a tokenizer, a trained model, a token cache) can never overwrite each other.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace ternary::testing {

class PrivateTempDir {
 public:
  // Call after InitGoogleTest: TempDir() reads TEST_TMPDIR on every call.
  PrivateTempDir() {
    std::string pattern = ::testing::TempDir() + "ternary-test-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::fprintf(stderr, "cannot create a temporary directory under %s\n", ::testing::TempDir().c_str());
      return;
    }
    dir_ = pattern;
    setenv("TEST_TMPDIR", dir_.c_str(), 1);
  }
  // Kept when a test failed, so its files can be inspected.
  void finish(int status) {
    if (dir_.empty()) return;
    if (status == 0) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    } else {
      std::fprintf(stderr, "test files kept in %s\n", dir_.c_str());
    }
  }

 private:
  std::string dir_;
};

}  // namespace ternary::testing
