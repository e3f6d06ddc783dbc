// `ternary-train --nproc N`: runs this same program as N local ranks, as `torchrun --standalone
// --nproc-per-node N` would. Each child gets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
// MASTER_ADDR=127.0.0.1, a free MASTER_PORT and, unless already set, OMP_WAIT_POLICY=PASSIVE
// (spinning OpenMP teams of several processes on shared cores run many times slower).
// LibTorch-free (POSIX).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace ternary {

// Starts the ranks with `arguments` (argv[1..], --nproc removed) and waits for them. Ctrl-C and
// SIGTERM are forwarded to every rank (they stop together at a step boundary and write one
// checkpoint; a second one kills them). When a rank fails, the others get `grace` to notice and exit on their own, then
// are killed. Returns 0 when every rank succeeded, 130 when they were stopped, else the first
// failing rank's exit code (128 + signal for a rank killed by a signal).
int run_local_ranks(int nproc, const std::vector<std::string>& arguments, std::chrono::seconds grace);

// A TCP port on 127.0.0.1 that nothing listens on at this moment (the kernel's choice).
int free_loopback_port();

}  // namespace ternary
