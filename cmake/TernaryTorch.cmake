# Defines the imported target ternary::torch (CPU LibTorch: libtorch_cpu + libc10).
#
# Default: TERNARY_TORCH_ROOT, the CPU libraries of the pinned PyPI torch wheel that
# scripts/setup.sh unpacks. We link libtorch_cpu directly rather than through TorchConfig.cmake,
# because the wheel's config also pulls in libtorch_cuda and the whole CUDA runtime.
# GPU builds set TERNARY_TORCH_FROM_CONFIG=ON and Torch_DIR (torch.utils.cmake_prefix_path).
option(TERNARY_TORCH_FROM_CONFIG "Use find_package(Torch) (e.g. a GPU machine's PyTorch)" OFF)

if(TARGET ternary::torch)
  return()
endif()

if(TERNARY_TORCH_FROM_CONFIG)
  find_package(Torch REQUIRED)
  add_library(ternary::torch INTERFACE IMPORTED)
  target_link_libraries(ternary::torch INTERFACE ${TORCH_LIBRARIES})
  get_filename_component(TERNARY_TORCH_LIBRARY_DIR "${TORCH_LIBRARY}" DIRECTORY)
  return()
endif()

set(TERNARY_TORCH_ROOT "$ENV{TERNARY_TORCH_ROOT}" CACHE PATH
    "LibTorch root made by scripts/setup.sh (include/, lib/)")
if(NOT EXISTS "${TERNARY_TORCH_ROOT}/lib/libtorch_cpu.so")
  message(FATAL_ERROR "LibTorch not found at TERNARY_TORCH_ROOT='${TERNARY_TORCH_ROOT}'. "
                      "Run scripts/setup.sh and pass -DTERNARY_TORCH_ROOT=<the path it prints>.")
endif()
set(TERNARY_TORCH_LIBRARY_DIR "${TERNARY_TORCH_ROOT}/lib")

add_library(ternary::torch_c10 SHARED IMPORTED)
set_target_properties(ternary::torch_c10 PROPERTIES
  IMPORTED_LOCATION "${TERNARY_TORCH_LIBRARY_DIR}/libc10.so")
add_library(ternary::torch SHARED IMPORTED)
set_target_properties(ternary::torch PROPERTIES
  IMPORTED_LOCATION "${TERNARY_TORCH_LIBRARY_DIR}/libtorch_cpu.so"
  INTERFACE_INCLUDE_DIRECTORIES
    "${TERNARY_TORCH_ROOT}/include;${TERNARY_TORCH_ROOT}/include/torch/csrc/api/include"
  INTERFACE_LINK_LIBRARIES "ternary::torch_c10;-fopenmp"
  # ATen's at::parallel_for is an inline `#pragma omp parallel` (AT_PARALLEL_OPENMP): without
  # -fopenmp in *our* translation units it silently runs on one thread.
  INTERFACE_COMPILE_OPTIONS "-fopenmp"
  INTERFACE_COMPILE_FEATURES cxx_std_20)
# libtorch_cpu needs libgomp/libcudart/libcupti from the same folder at load time (it has no
# RUNPATH of its own). Its libgomp.so.1 then is the one OpenMP runtime of every LibTorch process:
# our -fopenmp code binds to it by soname. LibTorch-free targets clear this (runtime/).
set(CMAKE_BUILD_RPATH "${CMAKE_BUILD_RPATH};${TERNARY_TORCH_LIBRARY_DIR}")
