// What this CPU can run, and the one choice every SIMD tier in the project goes through.
// Levels: ref (plain code, no ISA extension) < avx2 (with FMA, F16C) < avx512 (F, BW, DQ, VL) < avx512vnni
// < avx512amx (AMX-TILE and AMX-INT8, and the kernel's permission to use tile data).
// selected_isa() is the best level the CPU has, or TERNARY_KERNEL=ref|avx2|avx512|avx512vnni|avx512amx
// when set (an error if unknown or beyond this CPU). Each kernel family runs its highest tier at
// or below the selected level: TERNARY_KERNEL=ref forces the reference tier everywhere.
// Detected once with cpuid (GCC's __builtin_cpu_supports); never assumed at compile time.
// LibTorch-free.
#pragma once

#include <optional>

namespace ternary::kernels {

enum class Isa { kReference = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Vnni = 3, kAvx512Amx = 4 };

const char* to_string(Isa isa);  // "ref", "avx2", "avx512", "avx512vnni", "avx512amx"
bool cpu_supports(Isa isa);
Isa best_supported_isa();
// The level every dispatcher uses: a test override, else TERNARY_KERNEL, else the best supported.
// Throws std::runtime_error for an unknown or unsupported TERNARY_KERNEL.
Isa selected_isa();

// Tests: run everything at `isa` (must be supported) while this object lives, so each tier can
// be compared with the reference in one process.
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa isa);
  ~ScopedIsa();
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  std::optional<Isa> previous_;
};

// Picks the variant of a function compiled per tier (see TERNARY_ISA_VARIANTS) for selected_isa().
template <typename F>
F pick_isa_variant(F reference, F avx2, F avx512) {
  const Isa isa = selected_isa();
  return isa >= Isa::kAvx512 ? avx512 : isa == Isa::kAvx2 ? avx2 : reference;
}

}  // namespace ternary::kernels

// A loop body written once as an always-inline function `name`, compiled three times:
// name_reference (no extension), name_avx2, name_avx512. Pick one with pick_isa_variant.
#define TERNARY_ALWAYS_INLINE inline __attribute__((always_inline))
#define TERNARY_ISA_VARIANTS(ret, name, params, args)                                                  \
  ret name##_reference params { return name args; }                                                  \
  __attribute__((target("avx2,fma"))) ret name##_avx2 params { return name args; }                  \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) ret name##_avx512 params { return name args; }
