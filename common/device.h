// Where computation runs: the one spelling of `device: cpu|cuda` (training config) and
// `--device cpu|cuda` (ternary-run). LibTorch-free.
#pragma once

#include <string>

namespace ternary {

enum class Device { kCpu, kCuda };
const char* to_string(Device device);  // "cpu" | "cuda"
// Throws std::invalid_argument "unknown device '<name>' (expected cpu or cuda)".
Device parse_device(const std::string& name);

}  // namespace ternary
