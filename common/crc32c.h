// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord files frame each record, and
// its "masked" form, which TensorFlow stores so that a CRC of data that itself holds CRCs stays
// well distributed. Plain table code: event files are small.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ternary {

uint32_t crc32c(const void* data, size_t size);
inline uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

}  // namespace ternary
