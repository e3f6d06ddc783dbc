// The LibTorch-free binaries load one OpenMP runtime, the system's (GCC's libgomp; LLVM's libomp in
// the clang sanitizer build), and never LibTorch's folder (ternary-run runs without LibTorch).
#include <gtest/gtest.h>
#include <omp.h>

#include "loaded_libraries.h"

namespace ternary {

TEST(OpenMpRuntime, LibTorchFreeBinariesLoadOneSystemRuntime) {
  EXPECT_GE(omp_get_max_threads(), 1);  // the runtime is really in use
  auto runtimes = testing::loaded_libraries("libgomp");
  runtimes.merge(testing::loaded_libraries("libomp"));
  runtimes.merge(testing::loaded_libraries("libiomp"));
  ASSERT_EQ(runtimes.size(), 1u) << "not exactly one OpenMP runtime is loaded";
  EXPECT_EQ(runtimes.begin()->find("libtorch"), std::string::npos) << *runtimes.begin();
  EXPECT_TRUE(testing::loaded_libraries("libtorch").empty());
  EXPECT_TRUE(testing::loaded_libraries("libc10").empty());
}

}  // namespace ternary
