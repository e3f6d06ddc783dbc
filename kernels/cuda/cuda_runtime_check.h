// Host-side helpers shared by the CUDA kernels: turn a cudaError_t into a one-line
// std::runtime_error naming the call, and ask whether a CUDA device is usable at all.
#pragma once

#include <string>

namespace ternary::cuda {

// True when the CUDA runtime finds at least one device (false on machines without a GPU or
// driver; never throws), so tests can skip and tools can print a clear error.
bool device_available();
// "NVIDIA H100 80GB HBM3 (sm_90, 79 GiB)" for device 0, or the reason there is none.
std::string device_description();
// Throws std::runtime_error("<what>: <CUDA error string>") when `status` (a cudaError_t) is not success.
void check(int status, const char* what);

}  // namespace ternary::cuda
