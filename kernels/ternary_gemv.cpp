#include "kernels/ternary_gemv.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>

#include <omp.h>

namespace ternary::kernels {

const char* to_string(KernelTier tier) {
  switch (tier) {
    case KernelTier::kAvx2: return "avx2";
    case KernelTier::kAvx512Vnni: return "avx512vnni";
    case KernelTier::kAvx512Amx: return "avx512amx";
    default: return "ref";
  }
}

namespace {

Isa isa_of(KernelTier tier) {
  switch (tier) {
    case KernelTier::kAvx2: return Isa::kAvx2;
    case KernelTier::kAvx512Vnni: return Isa::kAvx512Vnni;
    case KernelTier::kAvx512Amx: return Isa::kAvx512Amx;
    default: return Isa::kReference;
  }
}

}  // namespace

bool cpu_supports(KernelTier tier) { return cpu_supports(isa_of(tier)); }

KernelTier selected_tier() {
  const Isa isa = selected_isa();  // this family's highest tier at or below the selected level
  if (isa >= Isa::kAvx512Amx) return KernelTier::kAvx512Amx;
  if (isa >= Isa::kAvx512Vnni) return KernelTier::kAvx512Vnni;
  if (isa >= Isa::kAvx2) return KernelTier::kAvx2;
  return KernelTier::kReference;
}

namespace {

// The smallest batch the AMX tier multiplies on tiles (a tile's token chunk; fewer leave it idle).
constexpr int64_t kAmxMinBatch = kAmxRows;

// Written once, compiled per ISA level (TERNARY_ISA_VARIANTS): max |x| in 16 lanes (max is exact
// in any order), and whether everything is finite (x - x is 0, or NaN for NaN and Inf).
TERNARY_ALWAYS_INLINE float absmax_if_finite(const float* x, int64_t k) {
  constexpr int64_t kLanes = 16;
  float maxima[kLanes] = {}, probes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= k; i += kLanes)
    for (int64_t j = 0; j < kLanes; ++j) {
      const float magnitude = std::fabs(x[i + j]);
      maxima[j] = maxima[j] < magnitude ? magnitude : maxima[j];
      probes[j] += x[i + j] - x[i + j];
    }
  for (; i < k; ++i) {
    maxima[0] = std::max(maxima[0], std::fabs(x[i]));
    probes[0] += x[i] - x[i];
  }
  float absmax = 0, probe = 0;
  for (int64_t j = 0; j < kLanes; ++j) absmax = std::max(absmax, maxima[j]), probe += probes[j];
  return probe == 0 ? absmax : std::numeric_limits<float>::quiet_NaN();
}

// q = clamp(round_half_even(x / scale), -128, 127); returns sum q. Compilers vectorize the
// rounding (vroundps / vrndscaleps, nearest-even) where the ISA has it: the same values.
TERNARY_ALWAYS_INLINE int32_t round_codes(const float* x, int64_t k, float scale, int8_t* q) {
  int32_t sum = 0;
  for (int64_t i = 0; i < k; ++i) {
    const float code = std::min(std::max(std::nearbyint(x[i] / scale), -128.0f), 127.0f);
    q[i] = static_cast<int8_t>(code);
    sum += static_cast<int32_t>(code);
  }
  return sum;
}

TERNARY_ISA_VARIANTS(float, absmax_if_finite, (const float* x, int64_t k), (x, k))
TERNARY_ISA_VARIANTS(int32_t, round_codes, (const float* x, int64_t k, float scale, int8_t* q), (x, k, scale, q))

}  // namespace

void quantize_activations(const float* x, int64_t k, float eps, QuantizedActivations& out) {
  out.q.resize(static_cast<size_t>(k));
  const float absmax = pick_isa_variant(absmax_if_finite_reference, absmax_if_finite_avx2, absmax_if_finite_avx512)(x, k);
  if (std::isnan(absmax)) {  // NaN out, as training's fake-quant gives NaN (a float -> int8 cast of NaN is undefined)
    std::fill(out.q.begin(), out.q.end(), int8_t{0});
    out.scale = std::numeric_limits<float>::quiet_NaN();
    out.sum = 0;
    return;
  }
  out.scale = std::max(absmax / 127.0f, eps);
  out.sum = pick_isa_variant(round_codes_reference, round_codes_avx2, round_codes_avx512)(x, k, out.scale, out.q.data());
}

int32_t code_dot_reference(const uint8_t* codes, const int8_t* q, int64_t cols) {
  // Straight from the TQ2_0 bit order: byte 32j + m, bits 2l -> weight 128j + 32l + m of the block.
  int32_t sum = 0;
  for (int64_t b = 0; b < cols / 256; ++b)
    for (int j = 0; j < 2; ++j)
      for (int l = 0; l < 4; ++l)
        for (int m = 0; m < 32; ++m)
          sum += ((codes[b * 64 + 32 * j + m] >> (2 * l)) & 3) * q[b * 256 + 128 * j + 32 * l + m];
  return sum;
}

void ternary_gemm(const TernaryMatrix& w, const QuantizedActivations* activations, int64_t batch, float* y,
                  KernelTier tier) {
  for (int64_t t = 0; t < batch; ++t)
    if (static_cast<int64_t>(activations[t].q.size()) != w.cols())
      throw std::invalid_argument("ternary_gemm: activations of " + std::to_string(activations[t].q.size()) +
                                  " values for a matrix of " + std::to_string(w.cols()) + " columns");
  const int64_t rows = w.rows(), cols = w.cols();
  auto output = [&](int64_t r, int64_t t, int32_t codes_dot) {
    y[t * rows + r] = ternary_output(codes_dot, activations[t], w.scale(r));
  };
  if (tier == KernelTier::kReference) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t t = 0; t < batch; ++t) output(r, t, code_dot_reference(w.row(r), activations[t].q.data(), cols));
    return;
  }
  // Each token's activations as its tier reads them; kept per thread, so a decode step allocates nothing.
  // (The parallel region below reads them through `tokens_x`: inside it each thread would see its own.)
  static thread_local std::vector<int8_t> arranged;
  static thread_local std::vector<const int8_t*> x;
  x.resize(static_cast<size_t>(batch));
  const bool vnni = tier == KernelTier::kAvx512Vnni || tier == KernelTier::kAvx512Amx;
  if (vnni) {
    if (arranged.size() < static_cast<size_t>(batch * cols)) arranged.resize(static_cast<size_t>(batch * cols));
    for (int64_t t = 0; t < batch; ++t) {
      interleave_for_avx512(activations[t].q.data(), cols, arranged.data() + t * cols);
      x[static_cast<size_t>(t)] = arranged.data() + t * cols;
    }
  } else {
    for (int64_t t = 0; t < batch; ++t) x[static_cast<size_t>(t)] = activations[t].q.data();
  }
  const int8_t* const* tokens_x = x.data();
  const int64_t tiles = rows / 4;
  int64_t first_tile = 0;  // the 4-row tiles before it are done (AMX)
  if (batch >= kAmxMinBatch && tier == KernelTier::kAvx512Amx) {
    // Everything the threads need is allocated here, outside the parallel region, where a
    // bad_alloc can still reach the caller.
    static thread_local std::vector<int8_t> packed;
    static thread_local AlignedBytes scratch;
    static thread_local int64_t scratch_bytes = 0;
    packed.resize(static_cast<size_t>(amx_packed_bytes(batch, cols)));
    pack_tokens_for_amx(tokens_x, batch, cols, packed.data());
    const int64_t per_thread = amx_scratch_bytes(cols), max_threads = omp_get_max_threads();
    if (scratch_bytes < per_thread * max_threads)
      scratch = allocate_aligned(static_cast<size_t>(per_thread * max_threads)), scratch_bytes = per_thread * max_threads;
    const int8_t* tokens_packed = packed.data();  // `packed` inside the region would be each thread's own
    uint8_t* thread_scratch = scratch.get();
    const int64_t groups = rows / kAmxRows;
#pragma omp parallel num_threads(static_cast<int>(max_threads))
    {
      const int64_t threads = omp_get_num_threads(), id = omp_get_thread_num();
      ternary_gemm_amx(w, groups * id / threads, groups * (id + 1) / threads, tokens_packed, activations, batch,
                       thread_scratch + id * per_thread, y);
    }
    first_tile = groups * kAmxRows / 4;
  }
  if (batch == 1 && vnni) {
    // Decode: each thread streams its contiguous share of the tiles in one kernel call, then
    // scales its rows in a loop the compiler vectorizes (the per-tile call and scalar epilogue
    // cost ~3 % of a 1B model's decode step).
    static thread_local std::vector<int32_t> sums;
    sums.resize(static_cast<size_t>(rows));
    int32_t* row_sums = sums.data();
    const QuantizedActivations& a = activations[0];
#pragma omp parallel
    {
      const int64_t threads = omp_get_num_threads(), id = omp_get_thread_num();
      const int64_t begin = tiles * id / threads, end = tiles * (id + 1) / threads;
      code_dot_rows_avx512vnni(w.row(4 * begin), w.row_bytes(), tokens_x[0], cols, end - begin, row_sums + 4 * begin);
      for (int64_t r = 4 * begin; r < 4 * end; ++r) y[r] = ternary_output(row_sums[r], a, w.scale(r));
    }
  } else {
    auto tile = vnni ? code_dot_tile_avx512vnni : code_dot_tile_avx2;
#pragma omp parallel for schedule(static)
    for (int64_t i = first_tile; i < tiles; ++i)
      for (int64_t t0 = 0; t0 < batch; t0 += 4) {
        const int tokens = static_cast<int>(std::min<int64_t>(4, batch - t0));
        int32_t sums[16];
        tile(w.row(4 * i), w.row_bytes(), tokens_x + t0, tokens, cols, sums);
        for (int t = 0; t < tokens; ++t)
          for (int r = 0; r < 4; ++r) output(4 * i + r, t0 + t, sums[t * 4 + r]);
      }
  }
  for (int64_t r = tiles * 4; r < rows; ++r)  // the last rows % 4: exact integers whichever way
    for (int64_t t = 0; t < batch; ++t) output(r, t, code_dot_reference(w.row(r), activations[t].q.data(), cols));
}

}  // namespace ternary::kernels
