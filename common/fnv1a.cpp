#include "common/fnv1a.h"

#include <cstdio>

namespace ternary {

uint64_t fnv1a(const void* data, size_t size, uint64_t seed) {
  uint64_t hash = seed;
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) hash = (hash ^ bytes[i]) * 0x100000001b3ull;
  return hash;
}

std::string fnv1a_hex(uint64_t hash) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

std::string fnv1a_hex(const void* data, size_t size) { return fnv1a_hex(fnv1a(data, size)); }

}  // namespace ternary
