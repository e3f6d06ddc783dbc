#include "models/safetensors.h"

#include <ATen/ATen.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <vector>

namespace ternary {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw std::runtime_error(path + ": " + message);
}

std::vector<char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail(path, "cannot open the file (check the path)");
  const std::streamsize size = in.tellg();
  std::vector<char> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (!in.read(bytes.data(), size)) fail(path, "could not read the whole file");
  return bytes;
}

at::ScalarType dtype_of(const std::string& path, const std::string& name, const std::string& dtype) {
  if (dtype == "F32") return at::kFloat;
  if (dtype == "F16") return at::kHalf;
  if (dtype == "BF16") return at::kBFloat16;
  fail(path, "tensor '" + name + "' has dtype " + dtype + "; supported: F32, F16, BF16");
}

}  // namespace

std::map<std::string, at::Tensor> read_safetensors(const std::string& path) {
  const std::vector<char> bytes = read_file(path);
  if (bytes.size() < 8) fail(path, "too short to be a safetensors file (" + std::to_string(bytes.size()) + " bytes)");
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | static_cast<uint8_t>(bytes[i]);
  if (header_size > bytes.size() - 8)
    fail(path, "header of " + std::to_string(header_size) + " bytes exceeds the file; truncated or not safetensors");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_size));
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("header is not valid JSON (") + e.what() + "); re-save the checkpoint");
  }
  const size_t data_start = 8 + header_size, data_size = bytes.size() - data_start;
  std::map<std::string, at::Tensor> tensors;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
      fail(path, "tensor '" + name + "' lacks dtype, shape or data_offsets");
    const at::ScalarType dtype = dtype_of(path, name, entry["dtype"].get<std::string>());
    const auto shape = entry["shape"].get<std::vector<int64_t>>();
    const auto offsets = entry["data_offsets"].get<std::vector<uint64_t>>();
    int64_t numel = 1;
    for (int64_t d : shape) {
      if (d < 0) fail(path, "tensor '" + name + "' has a negative dimension");
      numel *= d;
    }
    const uint64_t expected = static_cast<uint64_t>(numel) * at::elementSize(dtype);
    if (offsets.size() != 2 || offsets[1] < offsets[0] || offsets[1] > data_size || offsets[1] - offsets[0] != expected)
      fail(path, "tensor '" + name + "' data offsets do not fit its shape or the file; the file is corrupt or truncated");
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
    std::memcpy(t.data_ptr(), bytes.data() + data_start + offsets[0], expected);  // x86-64 is little-endian
    tensors.emplace(name, std::move(t));
  }
  return tensors;
}

std::map<std::string, at::Tensor> read_safetensors_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path single = fs::path(dir) / "model.safetensors", index = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(single)) return read_safetensors(single.string());
  if (!fs::exists(index))
    fail(dir, "no model.safetensors or model.safetensors.index.json (PyTorch .bin checkpoints are not supported; "
              "re-save with safe_serialization=True)");
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(std::ifstream(index));
  } catch (const nlohmann::json::exception& e) {
    fail(index.string(), std::string("not valid JSON (") + e.what() + ")");
  }
  if (!json.contains("weight_map") || !json["weight_map"].is_object()) fail(index.string(), "has no weight_map");
  std::set<std::string> shards;
  for (const auto& [name, file] : json["weight_map"].items()) shards.insert(file.get<std::string>());
  std::map<std::string, at::Tensor> tensors;
  for (const auto& shard : shards) tensors.merge(read_safetensors((fs::path(dir) / shard).string()));
  for (const auto& [name, file] : json["weight_map"].items())
    if (!tensors.count(name)) fail(index.string(), "names tensor '" + name + "' but shard " + file.get<std::string>() +
                                                       " does not contain it");
  return tensors;
}

}  // namespace ternary
