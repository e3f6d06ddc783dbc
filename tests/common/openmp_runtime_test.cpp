// The LibTorch-free binaries load one OpenMP runtime, the system's libgomp, and never LibTorch's
// folder (ternary-run must run where no LibTorch is installed).
#include <gtest/gtest.h>
#include <omp.h>

#include "loaded_libraries.h"

namespace ternary {

TEST(OpenMpRuntime, LibTorchFreeBinariesLoadOneSystemLibgomp) {
  EXPECT_GE(omp_get_max_threads(), 1);  // the runtime is really in use
  const auto gomp = testing::loaded_libraries("libgomp");
  ASSERT_EQ(gomp.size(), 1u) << "more than one OpenMP runtime is loaded";
  EXPECT_EQ(gomp.begin()->find("libtorch"), std::string::npos) << *gomp.begin();
  EXPECT_TRUE(testing::loaded_libraries("libtorch").empty());
  EXPECT_TRUE(testing::loaded_libraries("libc10").empty());
}

}  // namespace ternary
