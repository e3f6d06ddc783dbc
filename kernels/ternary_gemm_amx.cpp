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

#include "kernels/ternary_gemv.h"

namespace ternary::kernels {
namespace {

constexpr int64_t kTileBytes = kAmxRows * 64;  // every tile here: 16 rows of 64 bytes

// Tiles 0 - 3: sums (16 rows x 16 tokens, int32) of row group g and token chunk c at 2g + c;
// 4, 5: the two row groups' codes; 6, 7: the two token chunks' activations. A 2 x 2 block loads
// 4 tiles for 4 multiplies, where one group against one chunk would load 2 for 1.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t bytes_per_row[16] = {64, 64, 64, 64, 64, 64, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
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

// sums[(2g + c) * 256 + 16m + n]: row m of group g (codes at groups + g * group_bytes) against
// token n of chunk c (activations at chunks + c * chunk_bytes), for kGroups x kChunks blocks.
template <int kGroups, int kChunks>
__attribute__((target("amx-tile,amx-int8"))) void multiply_block(const uint8_t* groups, int64_t group_bytes,
                                                                  const int8_t* chunks, int64_t chunk_bytes,
                                                                  int64_t k_tiles, int32_t* sums) {
  _tile_zero(0);
  if constexpr (kChunks == 2) _tile_zero(1);
  if constexpr (kGroups == 2) _tile_zero(2);
  if constexpr (kGroups == 2 && kChunks == 2) _tile_zero(3);
  for (int64_t k = 0; k < k_tiles; ++k) {
    _tile_loadd(4, groups + k * kTileBytes, 64);
    if constexpr (kGroups == 2) _tile_loadd(5, groups + group_bytes + k * kTileBytes, 64);
    _tile_loadd(6, chunks + k * kTileBytes, 64);
    _tile_dpbusd(0, 4, 6);
    if constexpr (kGroups == 2) _tile_dpbusd(2, 5, 6);
    if constexpr (kChunks == 2) {
      _tile_loadd(7, chunks + chunk_bytes + k * kTileBytes, 64);
      _tile_dpbusd(1, 4, 7);
      if constexpr (kGroups == 2) _tile_dpbusd(3, 5, 7);
    }
  }
  _tile_stored(0, sums, 64);
  if constexpr (kChunks == 2) _tile_stored(1, sums + 256, 64);
  if constexpr (kGroups == 2) _tile_stored(2, sums + 512, 64);
  if constexpr (kGroups == 2 && kChunks == 2) _tile_stored(3, sums + 768, 64);
}

using MultiplyBlock = void (*)(const uint8_t*, int64_t, const int8_t*, int64_t, int64_t, int32_t*);
constexpr MultiplyBlock kMultiplyBlock[2][2] = {{multiply_block<1, 1>, multiply_block<1, 2>},
                                                {multiply_block<2, 1>, multiply_block<2, 2>}};

}  // namespace

void pack_tokens_for_amx(const int8_t* const* x, int64_t batch, int64_t cols, int8_t* out) {
  std::memset(out, 0, static_cast<size_t>(amx_packed_bytes(batch, cols)));  // a last chunk's missing tokens multiply as 0
  for (int64_t t = 0; t < batch; ++t)
    for (int64_t k = 0; k < cols / 64; ++k)
      for (int64_t q = 0; q < 16; ++q)  // dword q of the tile's 64 columns -> row q, token column t % 16
        std::memcpy(out + ((t / kAmxRows) * (cols / 64) + k) * kTileBytes + q * 64 + (t % kAmxRows) * 4, x[t] + k * 64 + q * 4, 4);
}

__attribute__((target("amx-tile,amx-int8,avx512f,avx512bw"))) void ternary_gemm_amx(
    const TernaryMatrix& w, int64_t group_begin, int64_t group_end, const int8_t* packed,
    const QuantizedActivations* activations, int64_t batch, uint8_t* scratch, float* y) {
  const int64_t rows = w.rows(), cols = w.cols(), chunks = (batch + kAmxRows - 1) / kAmxRows, k_tiles = cols / 64;
  const int64_t bytes = k_tiles * kTileBytes;  // a row group's unpacked codes, a chunk's activations
  const TileConfig config;
  _tile_loadconfig(&config);  // per thread: tile state is the thread's own
  alignas(64) int32_t sums[4 * 256];
  // Column n of a sums tile, as gather offsets: token n's 16 rows.
  const __m512i column = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                            _mm512_set1_epi32(16));
  for (int64_t g0 = group_begin; g0 < group_end; g0 += 2) {
    const int64_t groups = std::min<int64_t>(2, group_end - g0);
    for (int64_t g = 0; g < groups; ++g) unpack_group(w.row(kAmxRows * (g0 + g)), w.row_bytes(), cols, scratch + g * bytes);
    for (int64_t c0 = 0; c0 < chunks; c0 += 2) {
      const int64_t pair = std::min<int64_t>(2, chunks - c0);
      kMultiplyBlock[groups - 1][pair - 1](scratch, bytes, packed + c0 * bytes, bytes, k_tiles, sums);
      // Token n's 16 rows, scaled as ternary_output does (same operations, same order), one store.
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t first_row = kAmxRows * (g0 + g);
        const __m512 row_scales = _mm512_loadu_ps(w.scales() + first_row);
        for (int64_t c = 0; c < pair; ++c) {
          const int64_t first = kAmxRows * (c0 + c), tokens = std::min(kAmxRows, batch - first);
          const int32_t* tile = sums + (2 * g + c) * 256;
          for (int64_t n = 0; n < tokens; ++n) {
            const QuantizedActivations& a = activations[first + n];
            const __m512i dot = _mm512_i32gather_epi32(_mm512_add_epi32(column, _mm512_set1_epi32(static_cast<int>(n))), tile, 4);
            const __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(dot, _mm512_set1_epi32(a.sum))),
                                           _mm512_set1_ps(a.scale));
            _mm512_storeu_ps(y + (first + n) * rows + first_row, _mm512_mul_ps(x, row_scales));
          }
        }
      }
    }
  }
  _tile_release();
}

}  // namespace ternary::kernels
