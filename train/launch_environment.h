// Who this process is in a multi-process run, read from torchrun's environment variables:
// RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT. A process with none
// of them is a one-process run, as before. Every mistake is a one-line error naming the variable.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace ternary {

// A multi-process run that cannot start or lost a rank; the CLI prints it and exits 1.
class DistributedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LaunchEnvironment {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;        // ranks on this machine (threads are split among them)
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;

  bool distributed() const { return world_size > 1; }
  // Loopback rendezvous: Gloo then talks over `lo` (one machine, nothing leaves it).
  bool loopback() const;

  // Reads the variables through `get` (std::getenv by default: nullptr = unset).
  static LaunchEnvironment from_environment(
      const std::function<const char*(const char*)>& get = [](const char* name) { return std::getenv(name); });
};

}  // namespace ternary
