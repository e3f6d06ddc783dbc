// Quantization levels: the integer codes a quantizer may emit, before scaling.
// Pure data (no LibTorch), shared by quantizers, export and the runtime's metadata.
#pragma once

#include <cstdint>
#include <string>

namespace ternary {

enum class LevelKind { kTernary, kBinary, kSignedInt, kUnsignedInt };

struct Levels {
  LevelKind kind = LevelKind::kTernary;
  int bits = 2;               // storage bits; ternary needs 2 (1.58 of information), binary 1
  bool narrow_range = false;  // signed int only: drop the code -2^(bits-1), symmetric range

  static Levels ternary() { return {LevelKind::kTernary, 2, true}; }
  static Levels binary() { return {LevelKind::kBinary, 1, true}; }
  static Levels signed_int(int bits, bool narrow_range = false) {
    return {LevelKind::kSignedInt, bits, narrow_range};
  }
  static Levels unsigned_int(int bits) { return {LevelKind::kUnsignedInt, bits, false}; }

  int64_t min_code() const;
  int64_t max_code() const;
  // Qp of LSQ: the count of positive levels, in its 1/sqrt(N*Qp) gradient scale.
  int64_t positive_levels() const { return max_code(); }
  // Throws std::invalid_argument when bits are out of range for the kind.
  void validate() const;
  std::string describe() const;  // "ternary", "binary", "int8", "int4_narrow", "uint8"

  bool operator==(const Levels&) const = default;
};

}  // namespace ternary
