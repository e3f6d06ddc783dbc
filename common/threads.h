// The bound on a user's thread count (`threads:` in a config, --threads on a command line): at
// most 4 x the hardware threads. More is a typo, not a machine: an OpenMP team of 100000 threads
// fails inside libgomp instead of with a message.
#pragma once

#include <algorithm>
#include <thread>

namespace ternary {

inline int max_threads() { return 4 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

}  // namespace ternary
