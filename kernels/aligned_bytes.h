// 64-byte-aligned byte buffers for the kernels' repacked weight layouts (one cache line, one
// AVX-512 load): the allocation and its deleter in one place.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>

namespace ternary::kernels {

struct AlignedFree {
  void operator()(uint8_t* p) const { std::free(p); }
};
using AlignedBytes = std::unique_ptr<uint8_t[], AlignedFree>;

// `size` bytes rounded up to whole cache lines; throws std::bad_alloc.
inline AlignedBytes allocate_aligned(size_t size) {
  AlignedBytes bytes(static_cast<uint8_t*>(std::aligned_alloc(64, (size + 63) / 64 * 64)));
  if (!bytes) throw std::bad_alloc();
  return bytes;
}

}  // namespace ternary::kernels
