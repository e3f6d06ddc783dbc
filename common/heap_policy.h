// Large training runs free big tensors all the time. glibc's malloc raises its mmap threshold each
// time a mapped block is freed (up to 32 MiB), after which blocks of that size come from the heap,
// and the heap keeps what it frees: on the 1.1B shape that held 0.36 GB of free memory per 300M
// parameters (docs/scaling.md). A fixed 1 MiB threshold maps every large block and unmaps it when
// freed. The programs call this once at start; a library never changes a process's malloc itself.
#pragma once

namespace ternary {

// Blocks of 1 MiB and more are mapped and returned to the OS when freed. No-op without glibc.
void return_large_frees_to_the_os();

}  // namespace ternary
