// GoogleTest entry for the LibTorch-facing suite: fixed seed and two threads, so results do not
// depend on the machine.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  at::manual_seed(1234);
  at::set_num_threads(2);
  return RUN_ALL_TESTS();
}
