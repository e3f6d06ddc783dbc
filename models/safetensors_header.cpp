#include "models/safetensors_header.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace ternary {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw std::runtime_error(path + ": " + message);
}

}  // namespace

uint64_t safetensors_element_size(const std::string& dtype) { return dtype == "F32" ? 4 : 2; }

SafetensorsHeader parse_safetensors_header(std::string_view bytes, const std::string& path) {
  if (bytes.size() < 8) fail(path, "too short to be a safetensors file (" + std::to_string(bytes.size()) + " bytes)");
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
  if (header_size > bytes.size() - 8)
    fail(path, "header of " + std::to_string(header_size) + " bytes exceeds the file; truncated or not safetensors");
  const auto json = nlohmann::json::parse(bytes.substr(8, header_size), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) fail(path, "header is not valid JSON; re-save the checkpoint");
  if (!json.is_object()) fail(path, "header is not a JSON object of tensors; re-save the checkpoint");
  SafetensorsHeader header;
  header.data_start = 8 + header_size;
  const uint64_t data_size = bytes.size() - header.data_start;
  for (const auto& [name, entry] : json.items()) {
    if (name == "__metadata__") continue;
    const std::string what = "tensor '" + name + "'";
    if (!entry.is_object()) fail(path, what + " is not an object with dtype, shape and data_offsets");
    const auto dtype = entry.find("dtype"), shape = entry.find("shape"), offsets = entry.find("data_offsets");
    if (dtype == entry.end() || !dtype->is_string()) fail(path, what + " has no dtype string");
    if (shape == entry.end() || !shape->is_array()) fail(path, what + " has no shape list");
    if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
        !(*offsets)[1].is_number_unsigned())
      fail(path, what + " has no data_offsets pair");
    SafetensorsEntry e;
    e.name = name;
    e.dtype = dtype->get<std::string>();
    if (e.dtype != "F32" && e.dtype != "F16" && e.dtype != "BF16")
      fail(path, what + " has dtype " + e.dtype + "; supported: F32, F16, BF16");
    uint64_t bytes_needed = safetensors_element_size(e.dtype);
    for (const auto& d : *shape) {
      if (!d.is_number_unsigned()) fail(path, what + " has a shape entry that is not a non-negative integer");
      const uint64_t extent = d.get<uint64_t>();
      // Bounded by the data section at every step, so the product cannot overflow.
      if (extent != 0 && bytes_needed > data_size / extent) fail(path, what + " is larger than the file's data");
      bytes_needed *= extent;
      e.shape.push_back(static_cast<int64_t>(extent));
    }
    e.begin = (*offsets)[0].get<uint64_t>();
    e.end = (*offsets)[1].get<uint64_t>();
    if (e.end < e.begin || e.end > data_size || e.end - e.begin != bytes_needed)
      fail(path, what + " data offsets do not fit its shape or the file; the file is corrupt or truncated");
    header.entries.push_back(std::move(e));
  }
  return header;
}

}  // namespace ternary
