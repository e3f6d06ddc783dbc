// GoogleTest entry for the LibTorch-free suite: a private temporary directory per process.
#include <gtest/gtest.h>

#include "private_temp_dir.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ternary::testing::PrivateTempDir temp_dir;
  const int status = RUN_ALL_TESTS();
  temp_dir.finish(status);
  return status;
}
