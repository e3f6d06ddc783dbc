#include "models/safetensors.h"

#include "models/safetensors_header.h"

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

at::ScalarType dtype_of(const std::string& dtype) {
  if (dtype == "F32") return at::kFloat;
  return dtype == "F16" ? at::kHalf : at::kBFloat16;  // the header parser admits only these three
}

}  // namespace

std::map<std::string, at::Tensor> read_safetensors(const std::string& path) {
  const std::vector<char> bytes = read_file(path);
  const SafetensorsHeader header = parse_safetensors_header(std::string_view(bytes.data(), bytes.size()), path);
  std::map<std::string, at::Tensor> tensors;
  for (const SafetensorsEntry& e : header.entries) {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(dtype_of(e.dtype)));
    std::memcpy(t.data_ptr(), bytes.data() + header.data_start + e.begin, e.end - e.begin);  // x86-64 is little-endian
    // A NaN/Inf weight would surface later as a diverged run, blamed on the learning rate.
    if (!at::isfinite(t).all().item<bool>())
      fail(path, "tensor '" + e.name + "' contains NaN or Inf values; the checkpoint is damaged");
    tensors.emplace(e.name, std::move(t));
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
  for (const auto& [name, file] : json["weight_map"].items()) {
    if (!file.is_string()) fail(index.string(), "weight_map entry '" + name + "' is not a file name");
    shards.insert(file.get<std::string>());
  }
  std::map<std::string, at::Tensor> tensors;
  for (const auto& shard : shards) tensors.merge(read_safetensors((fs::path(dir) / shard).string()));
  for (const auto& [name, file] : json["weight_map"].items())
    if (!tensors.count(name)) fail(index.string(), "names tensor '" + name + "' but shard " + file.get<std::string>() +
                                                       " does not contain it");
  return tensors;
}

}  // namespace ternary
