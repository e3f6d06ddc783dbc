#include "bench/read_bandwidth.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <stdexcept>

#include "bench/timing.h"
#include "kernels/cpu_features.h"

namespace ternary::bench {
namespace {

using Probe = uint64_t (*)(const uint8_t*, size_t);  // reads [data, data + bytes), returns a fold

// A plain sum of 64-bit words, four chains, compiled once per ISA level (the compiler may
// vectorize it): what any loop over the data gets for free.
TERNARY_ALWAYS_INLINE uint64_t sum64(const uint8_t* data, size_t bytes) {
  const auto* words = reinterpret_cast<const uint64_t*>(data);
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (size_t i = 0; i < bytes / 8; i += 4) a += words[i], b += words[i + 1], c += words[i + 2], d += words[i + 3];
  return a + b + c + d;
}
TERNARY_ISA_VARIANTS(uint64_t, sum64, (const uint8_t* data, size_t bytes), (data, bytes))

// Software prefetch of every line `distance` bytes ahead, into L2 (T1) or L1 (T0): on the
// project's VM, T1 4 KiB ahead beat every other probe by 5 - 8 % on one thread.
template <_mm_hint kHint>
inline void prefetch_lines(const uint8_t* p, size_t step, size_t distance) {
  for (size_t line = 0; line < step; line += 64) _mm_prefetch(reinterpret_cast<const char*>(p + distance + line), kHint);
}

template <int kPrefetch>  // 0: none, 1: T0 1 KiB ahead, 2: NTA 1 KiB ahead, 4: every line T1 4 KiB ahead, 5: T0 2 KiB
__attribute__((target("avx2"))) uint64_t avx2_or(const uint8_t* data, size_t bytes) {
  __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  for (size_t i = 0; i < bytes; i += 128) {
    if constexpr (kPrefetch == 1) _mm_prefetch(reinterpret_cast<const char*>(data + i + 1024), _MM_HINT_T0);
    if constexpr (kPrefetch == 2) _mm_prefetch(reinterpret_cast<const char*>(data + i + 1024), _MM_HINT_NTA);
    if constexpr (kPrefetch == 4) prefetch_lines<_MM_HINT_T1>(data + i, 128, 4096);
    if constexpr (kPrefetch == 5) prefetch_lines<_MM_HINT_T0>(data + i, 128, 2048);
    for (int j = 0; j < 4; ++j)
      acc[j] = _mm256_or_si256(acc[j], _mm256_load_si256(reinterpret_cast<const __m256i*>(data + i + 32 * j)));
  }
  const __m256i all = _mm256_or_si256(_mm256_or_si256(acc[0], acc[1]), _mm256_or_si256(acc[2], acc[3]));
  return static_cast<uint64_t>(_mm256_extract_epi64(all, 0) | _mm256_extract_epi64(all, 3));
}

template <int kPrefetch>  // as avx2_or; 3: non-temporal loads (vmovntdqa)
__attribute__((target("avx512f"))) uint64_t avx512_or(const uint8_t* data, size_t bytes) {
  __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
  for (size_t i = 0; i < bytes; i += 256) {
    if constexpr (kPrefetch == 1) _mm_prefetch(reinterpret_cast<const char*>(data + i + 1024), _MM_HINT_T0);
    if constexpr (kPrefetch == 2) _mm_prefetch(reinterpret_cast<const char*>(data + i + 1024), _MM_HINT_NTA);
    if constexpr (kPrefetch == 4) prefetch_lines<_MM_HINT_T1>(data + i, 256, 4096);
    if constexpr (kPrefetch == 5) prefetch_lines<_MM_HINT_T0>(data + i, 256, 2048);
    for (int j = 0; j < 4; ++j) {
      const void* p = data + i + 64 * j;
      const __m512i v = kPrefetch == 3 ? _mm512_stream_load_si512(const_cast<void*>(p)) : _mm512_load_si512(p);
      acc[j] = _mm512_or_si512(acc[j], v);
    }
  }
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, _mm512_or_si512(_mm512_or_si512(acc[0], acc[1]), _mm512_or_si512(acc[2], acc[3])));
  uint64_t fold = 0;
  for (uint64_t lane : lanes) fold |= lane;
  return fold;
}

}  // namespace

std::vector<ProbeResult> read_bandwidth_probes(size_t bytes, int threads, int repeats, const std::string& only) {
  using kernels::Isa;
  bytes = bytes / (size_t{64} << 10) * (size_t{64} << 10);
  std::unique_ptr<uint8_t, decltype(&std::free)> owned(static_cast<uint8_t*>(std::aligned_alloc(64, bytes)), &std::free);
  if (!owned) throw std::bad_alloc();
  const uint8_t* buffer = owned.get();
  std::memset(owned.get(), 1, bytes);  // touch every page before timing
  std::vector<std::pair<const char*, Probe>> probes = {{"sum64", sum64_reference}};
  if (kernels::cpu_supports(Isa::kAvx2)) {
    probes.push_back({"sum64_avx2", sum64_avx2});
    probes.push_back({"avx2", avx2_or<0>});
    probes.push_back({"avx2_prefetch", avx2_or<1>});
    probes.push_back({"avx2_prefetchnta", avx2_or<2>});
    probes.push_back({"avx2_prefetch_t1_4k", avx2_or<4>});
    probes.push_back({"avx2_prefetch_t0_2k", avx2_or<5>});
  }
  if (kernels::cpu_supports(Isa::kAvx512)) {
    probes.push_back({"sum64_avx512", sum64_avx512});
    probes.push_back({"avx512", avx512_or<0>});
    probes.push_back({"avx512_prefetch", avx512_or<1>});
    probes.push_back({"avx512_prefetchnta", avx512_or<2>});
    probes.push_back({"avx512_streamload", avx512_or<3>});
    probes.push_back({"avx512_prefetch_t1_4k", avx512_or<4>});
    probes.push_back({"avx512_prefetch_t0_2k", avx512_or<5>});
  }
  if (!only.empty()) {
    std::erase_if(probes, [&](const auto& p) { return only != p.first; });
    if (probes.empty()) throw std::invalid_argument("no read-bandwidth probe named '" + only + "' on this CPU");
  }
  const size_t chunk = bytes / static_cast<size_t>(threads) / 256 * 256;  // each thread one contiguous range
  std::vector<ProbeResult> results;
  volatile uint64_t sink = 0;
  for (const auto& [name, probe] : probes) {
    double best = 0;
    for (int r = 0; r < repeats; ++r) {
      uint64_t fold = 0;
      const double ms = time_ms([&] {
#pragma omp parallel num_threads(threads) reduction(| : fold)
        fold |= probe(buffer + static_cast<size_t>(omp_get_thread_num()) * chunk, chunk);
      });
      sink = sink | fold;
      best = std::max(best, static_cast<double>(chunk * static_cast<size_t>(threads)) / (ms * 1e6));
    }
    results.push_back({name, best});
  }
  std::sort(results.begin(), results.end(), [](const auto& a, const auto& b) { return a.gb_per_s > b.gb_per_s; });
  return results;
}

std::string probes_json(const std::vector<ProbeResult>& probes) {
  std::string all;
  for (const ProbeResult& p : probes) {
    char entry[96];
    std::snprintf(entry, sizeof entry, "%s\"%s\": %.2f", all.empty() ? "" : ", ", p.probe.c_str(), p.gb_per_s);
    all += entry;
  }
  return "{" + all + "}";
}

}  // namespace ternary::bench
