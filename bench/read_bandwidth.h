// The machine's read bandwidth, as the strongest honest reference for "fraction of bandwidth":
// several streaming-read probes, each compiled for an ISA the CPU has (plain 64-bit sums, AVX2 and
// AVX-512 loads, with and without software prefetch of every line into L1 or L2 at several
// distances, with non-temporal prefetch and non-temporal loads), each run
// `repeats` times at the given thread count; the best probe's best run wins, and its name goes
// into every fraction's JSON so a reader can see what the kernel was held against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ternary::bench {

struct ProbeResult {
  std::string probe;
  double gb_per_s = 0;
};

// Every probe the CPU can run, best first: each reads a fresh 64-byte-aligned buffer of `bytes`
// (make it far larger than the last-level cache), split into one contiguous range per thread.
// `only`: run just the probe of that name (to re-measure the winner next to what it bounds).
std::vector<ProbeResult> read_bandwidth_probes(size_t bytes, int threads, int repeats, const std::string& only = "");

// What an exact ternary decode kernel can stream here at most: the AVX-512 decode tile's vector
// work (in-place mask + vpdpbusd per bit pair, constant activations) on every line the best probe
// reads, for 0, 2 and 4 bit pairs a line (0, 4 and 8 vector ops; the tile does 8), taking turns
// so the fractions against the 0-op run are paired. `hot`: the same over an L1-resident buffer,
// the work alone. Empty without AVX-512 VNNI.
struct DecodeWorkCeiling {
  int vector_ops_per_line = 0;
  double stream_gb_per_s = 0, hot_gb_per_s = 0;
};
std::vector<DecodeWorkCeiling> decode_work_ceilings(size_t bytes, int threads, int repeats);

// {"probe": "<name>", "gb_per_s": x, ...} fields for a JSON line, and all probes as an object.
std::string probes_json(const std::vector<ProbeResult>& probes);

}  // namespace ternary::bench
