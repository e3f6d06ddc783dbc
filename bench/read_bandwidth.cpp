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

// The AVX-512 decode tile's vector work on every line the best probe (avx512_prefetch_t1_4k) reads:
// kPairs of (mask one bit pair in place, vpdpbusd) per 64-byte line, as the tile does per row
// block, but against constant activations, so nothing is loaded except the stream. kPairs = 0
// is that probe itself, as an OR of the lines.
template <int kPairs>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) uint64_t avx512_decode_work(const uint8_t* data, size_t bytes) {
  __m512i acc[8], masks[4];
  for (auto& a : acc) a = _mm512_setzero_si512();
  for (int l = 0; l < 4; ++l) masks[l] = _mm512_set1_epi8(static_cast<char>(3 << (2 * l)));
  const __m512i x = _mm512_set1_epi8(1);
  for (size_t i = 0; i < bytes; i += 256) {
    prefetch_lines<_MM_HINT_T1>(data + i, 256, 4096);
    for (int j = 0; j < 4; ++j) {
      const __m512i v = _mm512_load_si512(data + i + 64 * j);
      if constexpr (kPairs == 0) acc[j] = _mm512_or_si512(acc[j], v);
      for (int l = 0; l < kPairs; ++l) {
        __m512i& a = acc[(j % 2) * 4 + l];  // 8 chains: no multiply-add waits on the one before
        a = _mm512_dpbusd_epi32(a, _mm512_and_si512(v, masks[l]), x);
      }
    }
  }
  __m512i all = acc[0];
  for (int k = 1; k < 8; ++k) all = _mm512_or_si512(all, acc[k]);
  return static_cast<uint64_t>(_mm512_reduce_or_epi64(all));
}

// A fresh 64-byte-aligned buffer with every page touched, so page faults stay out of the timing.
std::unique_ptr<uint8_t, decltype(&std::free)> touched_buffer(size_t bytes) {
  std::unique_ptr<uint8_t, decltype(&std::free)> owned(static_cast<uint8_t*>(std::aligned_alloc(64, bytes)), &std::free);
  if (!owned) throw std::bad_alloc();
  std::memset(owned.get(), 1, bytes);
  return owned;
}

// Best of `repeats` runs of `probe` over `passes` passes of one contiguous `chunk` per thread;
// GB/s of bytes read.
double best_gb_per_s(Probe probe, const uint8_t* buffer, size_t chunk, int passes, int threads, int repeats) {
  volatile uint64_t sink = 0;
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    uint64_t fold = 0;
    const double ms = time_ms([&] {
#pragma omp parallel num_threads(threads) reduction(| : fold)
      for (int pass = 0; pass < passes; ++pass)
        fold |= probe(buffer + static_cast<size_t>(omp_get_thread_num()) * chunk, chunk);
    });
    sink = sink | fold;
    best = std::max(best, static_cast<double>(chunk * static_cast<size_t>(threads) * static_cast<size_t>(passes)) / (ms * 1e6));
  }
  return best;
}

}  // namespace

std::vector<DecodeWorkCeiling> decode_work_ceilings(size_t bytes, int threads, int repeats) {
  if (!kernels::cpu_supports(kernels::Isa::kAvx512Vnni)) return {};
  bytes = bytes / (size_t{64} << 10) * (size_t{64} << 10);
  const auto stream = touched_buffer(bytes);
  const size_t chunk = bytes / static_cast<size_t>(threads) / 256 * 256;
  constexpr size_t kHotBytes = size_t{32} << 10;  // per thread: stays in L1, so only the work is timed
  const auto hot = touched_buffer(kHotBytes * static_cast<size_t>(threads));
  const int hot_passes = static_cast<int>(bytes / static_cast<size_t>(threads) / kHotBytes);
  const std::pair<int, Probe> variants[] = {{0, avx512_decode_work<0>}, {2, avx512_decode_work<2>}, {4, avx512_decode_work<4>}};
  std::vector<DecodeWorkCeiling> results;
  for (const auto& [pairs, probe] : variants) results.push_back({2 * pairs});
  for (int r = 0; r < repeats; ++r)  // the variants take turns, so drifting bandwidth hits each alike
    for (size_t v = 0; v < results.size(); ++v) {
      DecodeWorkCeiling& c = results[v];
      c.stream_gb_per_s = std::max(c.stream_gb_per_s, best_gb_per_s(variants[v].second, stream.get(), chunk, 1, threads, 1));
      c.hot_gb_per_s = std::max(c.hot_gb_per_s, best_gb_per_s(variants[v].second, hot.get(), kHotBytes, hot_passes, threads, 1));
    }
  return results;
}

std::vector<ProbeResult> read_bandwidth_probes(size_t bytes, int threads, int repeats, const std::string& only) {
  using kernels::Isa;
  bytes = bytes / (size_t{64} << 10) * (size_t{64} << 10);
  const auto owned = touched_buffer(bytes);
  const uint8_t* buffer = owned.get();
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
  for (const auto& [name, probe] : probes) results.push_back({name, best_gb_per_s(probe, buffer, chunk, 1, threads, repeats)});
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
