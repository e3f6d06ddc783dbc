// AMX-INT8 tier of the ternary GEMM, for prompts (batches of 16 tokens and more): one tdpbusd
// multiplies a tile of 16 rows x 64 codes (u8) by 64 activations of 16 tokens (s8), 16K
// multiply-adds, on the tile unit rather than the vector ports.
// Per group of 16 rows the codes are unpacked once into tiles (bit pair l of a 64-byte row block
// gives the 64 weights that interleave_for_avx512 puts at 64l .. 64l + 63 of the block), then
// streamed against every token chunk; pack_tokens_for_amx lays the tokens out as tdpbusd's second
// operand. int32 accumulation, so the sums equal the reference's exactly.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/ternary_gemv.h"

namespace ternary::kernels {
namespace {

constexpr int64_t kTileBytes = 16 * 64;  // every tile here: 16 rows of 64 bytes

// Tiles 0 and 1: sums (16 rows x 16 tokens, int32) of two token chunks; 2: codes; 3 and 4: the
// two chunks' activations.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t bytes_per_row[16] = {64, 64, 64, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 16};
};

__attribute__((target("avx512f,avx512bw"))) void unpack_group(const uint8_t* codes, int64_t row_bytes, int64_t cols,
                                                              uint8_t* tiles) {
  const __m512i mask = _mm512_set1_epi8(3);
  for (int64_t r = 0; r < 16; ++r)
    for (int64_t b = 0; b < cols / 256; ++b) {
      const __m512i v = _mm512_load_si512(codes + r * row_bytes + b * 64);
      for (int l = 0; l < 4; ++l)
        _mm512_store_si512(tiles + (4 * b + l) * kTileBytes + r * 64, _mm512_and_si512(_mm512_srli_epi16(v, 2 * l), mask));
    }
}

// sums (two chunks x 16 tokens x 16 rows, token-major) of the unpacked group against chunks c
// and, when kTwo, c + 1.
template <bool kTwo>
__attribute__((target("amx-tile,amx-int8"))) void multiply_chunks(const uint8_t* tiles, const int8_t* chunk,
                                                                   int64_t chunk_bytes, int64_t k_tiles,
                                                                   int32_t* sums) {
  _tile_zero(0);
  if constexpr (kTwo) _tile_zero(1);
  for (int64_t k = 0; k < k_tiles; ++k) {
    _tile_loadd(2, tiles + k * kTileBytes, 64);
    _tile_loadd(3, chunk + k * kTileBytes, 64);
    _tile_dpbusd(0, 2, 3);
    if constexpr (kTwo) {
      _tile_loadd(4, chunk + chunk_bytes + k * kTileBytes, 64);
      _tile_dpbusd(1, 2, 4);
    }
  }
  _tile_stored(0, sums, 64);
  if constexpr (kTwo) _tile_stored(1, sums + 256, 64);
}

}  // namespace

void pack_tokens_for_amx(const int8_t* const* x, int64_t batch, int64_t cols, int8_t* out) {
  const int64_t chunks = (batch + 15) / 16;
  std::memset(out, 0, static_cast<size_t>(chunks * cols * 16));  // a last chunk's missing tokens multiply as 0
  for (int64_t t = 0; t < batch; ++t)
    for (int64_t k = 0; k < cols / 64; ++k)
      for (int64_t q = 0; q < 16; ++q)  // dword q of the tile's 64 columns -> row q, token column t % 16
        std::memcpy(out + ((t / 16) * (cols / 64) + k) * kTileBytes + q * 64 + (t % 16) * 4, x[t] + k * 64 + q * 4, 4);
}

__attribute__((target("amx-tile,amx-int8,avx512f,avx512bw"))) void ternary_gemm_amx(
    const TernaryMatrix& w, int64_t group_begin, int64_t group_end, const int8_t* packed,
    const QuantizedActivations* activations, int64_t batch, float* y) {
  const int64_t rows = w.rows(), cols = w.cols(), chunks = (batch + 15) / 16, k_tiles = cols / 64;
  const int64_t chunk_bytes = k_tiles * kTileBytes;
  const float* scales = w.scales();
  static thread_local AlignedBytes tiles;  // one group's unpacked codes: cols * 16 bytes
  static thread_local int64_t tiles_cols = 0;
  if (tiles_cols < cols) tiles = allocate_aligned(static_cast<size_t>(cols * 16)), tiles_cols = cols;
  const TileConfig config;
  _tile_loadconfig(&config);  // per thread: tile state is the thread's own
  alignas(64) int32_t sums[2 * 256];
  for (int64_t g = group_begin; g < group_end; ++g) {
    unpack_group(w.row(16 * g), w.row_bytes(), cols, tiles.get());
    for (int64_t c = 0; c < chunks; c += 2) {
      const bool two = c + 1 < chunks;
      if (two)
        multiply_chunks<true>(tiles.get(), packed + c * chunk_bytes, chunk_bytes, k_tiles, sums);
      else
        multiply_chunks<false>(tiles.get(), packed + c * chunk_bytes, chunk_bytes, k_tiles, sums);
      // Tile row m is code row 16g + m, column n token 16(c + i) + n: a gather of column n gives
      // token n's 16 rows, scaled as ternary_output does (same operations, same order) and stored
      // as one vector.
      const __m512i column = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                                _mm512_set1_epi32(16));
      const __m512 row_scales = _mm512_loadu_ps(scales + 16 * g);
      for (int64_t i = 0; i < (two ? 2 : 1); ++i) {
        const int64_t first = 16 * (c + i), tokens = std::min<int64_t>(16, batch - first);
        for (int64_t n = 0; n < tokens; ++n) {
          const QuantizedActivations& a = activations[first + n];
          const __m512i dot = _mm512_i32gather_epi32(_mm512_add_epi32(column, _mm512_set1_epi32(static_cast<int>(n))),
                                                     sums + i * 256, 4);
          const __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(dot, _mm512_set1_epi32(a.sum))),
                                         _mm512_set1_ps(a.scale));
          _mm512_storeu_ps(y + (first + n) * rows + 16 * g, _mm512_mul_ps(x, row_scales));
        }
      }
    }
  }
  _tile_release();
}

}  // namespace ternary::kernels
