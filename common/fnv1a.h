// 64-bit FNV-1a: the fingerprint of checkpoint files (manifest hashes), tokenizer vocabularies
// and tokenized corpora. Not cryptographic: it detects corruption and change, not tampering.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ternary {

constexpr uint64_t kFnv1aOffsetBasis = 0xcbf29ce484222325ull;

// Chain calls by passing the previous hash as `seed`.
uint64_t fnv1a(const void* data, size_t size, uint64_t seed = kFnv1aOffsetBasis);
// Sixteen lowercase hex digits, as the checkpoint manifest stores a hash: of `data`, or of a
// hash chained over a stream.
std::string fnv1a_hex(const void* data, size_t size);
std::string fnv1a_hex(uint64_t hash);

}  // namespace ternary
