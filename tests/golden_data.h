// Reads golden arrays written by tests/golden/*.py: a JSON manifest (name, dtype, shape, byte
// offset) beside a raw little-endian .bin file.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ternary::testing {

class GoldenArrays {
 public:
  explicit GoldenArrays(const std::string& stem) {
    const std::string base = std::string(TERNARY_SOURCE_DIR) + "/tests/golden/" + stem;
    std::ifstream manifest(base + ".json");
    std::ifstream blob(base + ".bin", std::ios::binary);
    if (!manifest || !blob) throw std::runtime_error("missing golden data " + base + ".{json,bin}");
    manifest_ = nlohmann::json::parse(manifest);
    bytes_.assign(std::istreambuf_iterator<char>(blob), std::istreambuf_iterator<char>());
  }

  // A copy of the named array as a tensor (float32 or uint8).
  at::Tensor operator[](const std::string& name) const {
    for (const auto& a : manifest_["arrays"]) {
      if (a["name"] != name) continue;
      const auto shape = a["shape"].get<std::vector<int64_t>>();
      const auto dtype = a["dtype"] == "float32" ? at::kFloat : at::kByte;
      at::Tensor t = at::empty(shape, dtype);
      const size_t offset = a["offset"].get<size_t>();
      if (offset + t.nbytes() > bytes_.size()) throw std::runtime_error("golden array " + name + " is truncated");
      std::memcpy(t.data_ptr(), bytes_.data() + offset, t.nbytes());
      return t;
    }
    throw std::runtime_error("no golden array named " + name);
  }

 private:
  nlohmann::json manifest_;
  std::vector<char> bytes_;
};

}  // namespace ternary::testing
