#include "common/device.h"

#include <stdexcept>

namespace ternary {

const char* to_string(Device device) { return device == Device::kCuda ? "cuda" : "cpu"; }

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::kCpu;
  if (name == "cuda") return Device::kCuda;
  throw std::invalid_argument("unknown device '" + name + "' (expected cpu or cuda)");
}

}  // namespace ternary
