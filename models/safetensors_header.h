// The header of a safetensors file (8-byte little-endian length, then JSON: name -> dtype, shape,
// data_offsets), parsed and validated against the file's size before any tensor is allocated.
// LibTorch-free, so a fuzz target can run it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ternary {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;            // F32, F16 or BF16
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data section
};

struct SafetensorsHeader {
  uint64_t data_start = 0;  // 8 + header length: where the data section begins
  std::vector<SafetensorsEntry> entries;
};

// bytes: the whole file. Throws std::runtime_error "<path>: ..." naming the tensor or field at fault.
SafetensorsHeader parse_safetensors_header(std::string_view bytes, const std::string& path);
// Bytes of one element of a supported dtype (4 or 2).
uint64_t safetensors_element_size(const std::string& dtype);

}  // namespace ternary
