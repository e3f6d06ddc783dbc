#include "kernels/cpu_features.h"

#include <cpuid.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace ternary::kernels {
namespace {

constexpr Isa kAll[] = {Isa::kReference, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni};
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
  throw std::runtime_error("TERNARY_KERNEL=" + name + " is unknown (expected ref, avx2, avx512 or avx512vnni)");
}

}  // namespace

const char* to_string(Isa isa) {
  switch (isa) {
    case Isa::kReference: return "ref";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx512Vnni: return "avx512vnni";
  }
  return "?";
}

namespace {

// F16C by cpuid (leaf 1, ECX bit 29): clang 14's __builtin_cpu_supports does not know "f16c".
bool has_f16c() {
  unsigned eax, ebx, ecx, edx;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C);
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
