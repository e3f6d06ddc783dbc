#include "train/launch_environment.h"

#include <charconv>
#include <cstdlib>

namespace ternary {
namespace {

// The integer value of `name` in [low, high]; nullopt when unset.
std::optional<int> integer_variable(const std::function<const char*(const char*)>& get, const char* name, int low,
                                    int high) {
  const char* text = get(name);
  if (!text) return std::nullopt;
  const std::string value(text);
  int parsed = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), parsed);
  if (value.empty() || error != std::errc() || end != value.data() + value.size() || parsed < low || parsed > high)
    throw DistributedError(std::string(name) + "='" + value + "' is not an integer in " + std::to_string(low) + ".." +
                           std::to_string(high) + " (torchrun's launch variables; unset them all for a one-process run)");
  return parsed;
}

}  // namespace

bool LaunchEnvironment::loopback() const {
  return master_addr == "localhost" || master_addr.rfind("127.", 0) == 0 || master_addr == "::1";
}

LaunchEnvironment LaunchEnvironment::from_environment(const std::function<const char*(const char*)>& get) {
  constexpr int kMaxRanks = 65536;
  LaunchEnvironment env;
  const std::optional<int> world = integer_variable(get, "WORLD_SIZE", 1, kMaxRanks);
  const std::optional<int> rank = integer_variable(get, "RANK", 0, kMaxRanks - 1);
  if (!world && !rank) return env;  // a one-process run
  if (!world) throw DistributedError("RANK is set but WORLD_SIZE is not; set both (or neither, for one process)");
  if (!rank) throw DistributedError("WORLD_SIZE is set but RANK is not; set both (or neither, for one process)");
  env.world_size = *world;
  env.rank = *rank;
  if (env.rank >= env.world_size)
    throw DistributedError("RANK=" + std::to_string(env.rank) + " is not below WORLD_SIZE=" +
                           std::to_string(env.world_size) + "; ranks are numbered 0..WORLD_SIZE-1");
  env.local_rank = integer_variable(get, "LOCAL_RANK", 0, kMaxRanks - 1).value_or(env.rank);
  env.local_world_size = integer_variable(get, "LOCAL_WORLD_SIZE", 1, kMaxRanks).value_or(env.world_size);
  if (env.local_rank >= env.local_world_size)
    throw DistributedError("LOCAL_RANK=" + std::to_string(env.local_rank) + " is not below LOCAL_WORLD_SIZE=" +
                           std::to_string(env.local_world_size));
  if (env.world_size > 1) {
    const char* addr = get("MASTER_ADDR");
    if (!addr || !*addr)
      throw DistributedError("MASTER_ADDR is not set: give the address of rank 0's machine (127.0.0.1 for one machine)");
    env.master_addr = addr;
    const std::optional<int> port = integer_variable(get, "MASTER_PORT", 1, 65535);
    if (!port) throw DistributedError("MASTER_PORT is not set: give a free TCP port on MASTER_ADDR, the same on every rank");
    env.master_port = *port;
  }
  return env;
}

}  // namespace ternary
