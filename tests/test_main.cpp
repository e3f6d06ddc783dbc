// GoogleTest entry for the LibTorch-facing suite: fixed seed and two threads, so results do not
// depend on the machine; a private temporary directory per process (see private_temp_dir.h).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include "private_temp_dir.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  at::manual_seed(1234);
  at::set_num_threads(2);
  ternary::testing::PrivateTempDir temp_dir;
  const int status = RUN_ALL_TESTS();
  temp_dir.finish(status);
  return status;
}
