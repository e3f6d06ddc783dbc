#include "kernels/ternary_blocks.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ternary::kernels {
namespace {

constexpr uint8_t kPow3[6] = {1, 3, 9, 27, 81, 243};

void check_length(int64_t n) {
  if (n % kTernaryBlock != 0)
    throw std::invalid_argument("ternary blocks hold 256 weights; " + std::to_string(n) + " is not a multiple of 256");
}

uint8_t code(int8_t trit) {
  if (trit < -1 || trit > 1) throw std::invalid_argument("not a trit: " + std::to_string(trit) + " (expected -1, 0, 1)");
  return static_cast<uint8_t>(trit + 1);
}

// Base-3 digits (first most significant), padded with `pad` zero digits, scaled to a byte.
uint8_t pack_base3(const uint8_t* codes, int count, int pad) {
  uint32_t q = 0;
  for (int i = 0; i < count; ++i) q = q * 3 + codes[i];
  for (int i = 0; i < pad; ++i) q *= 3;
  return static_cast<uint8_t>((q * 256 + 242) / 243);
}

int8_t unpack_base3(uint8_t byte, int digit) {
  const uint8_t shifted = static_cast<uint8_t>(byte * kPow3[digit]);
  return static_cast<int8_t>(((static_cast<uint16_t>(shifted) * 3) >> 8) - 1);
}

}  // namespace

void pack_tq2_0(const int8_t* trits, int64_t n, float d, BlockTQ2_0* blocks) {
  check_length(n);
  for (int64_t b = 0; b < n / kTernaryBlock; ++b) {
    const int8_t* t = trits + b * kTernaryBlock;
    BlockTQ2_0& block = blocks[b];
    for (int j = 0; j < 2; ++j)
      for (int m = 0; m < 32; ++m) {
        uint8_t byte = 0;
        for (int l = 0; l < 4; ++l) byte |= static_cast<uint8_t>(code(t[128 * j + 32 * l + m]) << (2 * l));
        block.qs[32 * j + m] = byte;
      }
    block.d = fp32_to_fp16(d);
  }
}

void unpack_tq2_0(const BlockTQ2_0* blocks, int64_t n, int8_t* trits) {
  check_length(n);
  for (int64_t b = 0; b < n / kTernaryBlock; ++b) {
    int8_t* t = trits + b * kTernaryBlock;
    for (int j = 0; j < 2; ++j)
      for (int l = 0; l < 4; ++l)
        for (int m = 0; m < 32; ++m)
          t[128 * j + 32 * l + m] = static_cast<int8_t>(((blocks[b].qs[32 * j + m] >> (2 * l)) & 3) - 1);
  }
}

void pack_tq1_0(const int8_t* trits, int64_t n, float d, BlockTQ1_0* blocks) {
  check_length(n);
  for (int64_t b = 0; b < n / kTernaryBlock; ++b) {
    const int8_t* t = trits + b * kTernaryBlock;
    BlockTQ1_0& block = blocks[b];
    uint8_t codes[5];
    for (int m = 0; m < 32; ++m) {
      for (int i = 0; i < 5; ++i) codes[i] = code(t[m + 32 * i]);
      block.qs[m] = pack_base3(codes, 5, 0);
    }
    for (int m = 0; m < 16; ++m) {
      for (int i = 0; i < 5; ++i) codes[i] = code(t[160 + m + 16 * i]);
      block.qs[32 + m] = pack_base3(codes, 5, 0);
    }
    for (int j = 0; j < 4; ++j) {
      for (int i = 0; i < 4; ++i) codes[i] = code(t[240 + j + 4 * i]);
      block.qh[j] = pack_base3(codes, 4, 1);  // the first code lands in the most significant trit
    }
    block.d = fp32_to_fp16(d);
  }
}

void unpack_tq1_0(const BlockTQ1_0* blocks, int64_t n, int8_t* trits) {
  check_length(n);
  for (int64_t b = 0; b < n / kTernaryBlock; ++b) {
    int8_t* t = trits + b * kTernaryBlock;
    const BlockTQ1_0& block = blocks[b];
    for (int i = 0; i < 5; ++i)
      for (int m = 0; m < 32; ++m) t[m + 32 * i] = unpack_base3(block.qs[m], i);
    for (int i = 0; i < 5; ++i)
      for (int m = 0; m < 16; ++m) t[160 + m + 16 * i] = unpack_base3(block.qs[32 + m], i);
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) t[240 + j + 4 * i] = unpack_base3(block.qh[j], i);
  }
}

}  // namespace ternary::kernels
