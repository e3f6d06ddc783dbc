// A LibTorch process loads exactly one OpenMP runtime: LibTorch's own libgomp (the one it was
// built and tested with), shared by ATen's parallel loops and our -fopenmp kernels, so
// at::set_num_threads (training's `threads`) also sizes our kernels' thread teams.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <filesystem>

#include "loaded_libraries.h"

namespace ternary {

TEST(OpenMpRuntime, LibTorchProcessesLoadOnlyLibTorchsLibgomp) {
  const auto gomp = testing::loaded_libraries("libgomp");
  ASSERT_EQ(gomp.size(), 1u) << "more than one OpenMP runtime is loaded";
  const auto torch = testing::loaded_libraries("libtorch_cpu");
  ASSERT_EQ(torch.size(), 1u);
  EXPECT_EQ(std::filesystem::path(*gomp.begin()).parent_path(), std::filesystem::path(*torch.begin()).parent_path());
  const int before = at::get_num_threads();
  at::set_num_threads(1);
  EXPECT_EQ(omp_get_max_threads(), 1);  // one runtime: ATen's setting is ours
  at::set_num_threads(before);
}

}  // namespace ternary
