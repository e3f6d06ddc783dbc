#include "kernels/cpu_features.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace ternary::kernels {
namespace {

constexpr Isa kAll[] = {Isa::kReference, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni, Isa::kAvx512Amx};
std::atomic<int> g_override{-1};  // ScopedIsa; -1 = none

Isa from_environment() {
  const char* forced = std::getenv("TERNARY_KERNEL");
  if (!forced || !*forced) return best_supported_isa();
  const std::string name = forced;
  for (Isa isa : kAll) {
    if (name != to_string(isa)) continue;
    if (!cpu_supports(isa))
      throw std::runtime_error("TERNARY_KERNEL=" + name + ": this CPU does not support it (best: " +
                               to_string(best_supported_isa()) + ")");
    return isa;
  }
  throw std::runtime_error("TERNARY_KERNEL=" + name + " is unknown (expected ref, avx2, avx512, avx512vnni or avx512amx)");
}

}  // namespace

const char* to_string(Isa isa) {
  switch (isa) {
    case Isa::kReference: return "ref";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx512Vnni: return "avx512vnni";
    case Isa::kAvx512Amx: return "avx512amx";
  }
  return "?";
}

namespace {

// F16C by cpuid (leaf 1, ECX bit 29): clang 14's __builtin_cpu_supports does not know "f16c".
bool has_f16c() {
  unsigned eax, ebx, ecx, edx;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C);
}

// AMX-TILE and AMX-INT8 by cpuid (leaf 7, EDX bits 24 and 25), then Linux's permission for the
// process to use tile data (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA): without it the
// first tile instruction faults. Asked once; a kernel or hypervisor that refuses means no AMX.
bool amx_int8_usable() {
  static const bool usable = [] {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) || !(edx & (1u << 24)) || !(edx & (1u << 25))) return false;
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return usable;
}

}  // namespace

bool cpu_supports(Isa isa) {
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  switch (isa) {
    case Isa::kReference: return true;
    case Isa::kAvx2: return avx2;
    case Isa::kAvx512: return avx512;
    case Isa::kAvx512Vnni: return avx512 && __builtin_cpu_supports("avx512vnni");
    case Isa::kAvx512Amx: return avx512 && __builtin_cpu_supports("avx512vnni") && amx_int8_usable();
  }
  return false;
}

Isa best_supported_isa() {
  static const Isa best = [] {
    Isa b = Isa::kReference;
    for (Isa isa : kAll)
      if (cpu_supports(isa)) b = isa;
    return b;
  }();
  return best;
}

Isa selected_isa() {
  const int forced = g_override.load(std::memory_order_relaxed);
  if (forced >= 0) return static_cast<Isa>(forced);
  return from_environment();  // per call (a getenv, once per kernel launch), so a changed variable counts
}

ScopedIsa::ScopedIsa(Isa isa) {
  if (!cpu_supports(isa)) throw std::runtime_error(std::string("ScopedIsa: this CPU does not support ") + to_string(isa));
  const int before = g_override.exchange(static_cast<int>(isa));
  if (before >= 0) previous_ = static_cast<Isa>(before);
}

ScopedIsa::~ScopedIsa() { g_override.store(previous_ ? static_cast<int>(*previous_) : -1); }

}  // namespace ternary::kernels
