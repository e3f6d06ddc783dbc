// The shared libraries mapped into this test process (from /proc/self/maps), to check which
// OpenMP runtime a binary really loads.
#pragma once

#include <fstream>
#include <set>
#include <string>

namespace ternary::testing {

// Full paths of mapped files whose name starts with `prefix` ("libgomp").
inline std::set<std::string> loaded_libraries(const std::string& prefix) {
  std::set<std::string> paths;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string name = path.substr(path.rfind('/') + 1);
    if (name.rfind(prefix, 0) == 0) paths.insert(path);
  }
  return paths;
}

}  // namespace ternary::testing
