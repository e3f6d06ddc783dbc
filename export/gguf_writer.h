// Writes a GGUF v3 file (kernels/gguf_format.h): metadata in insertion order, then tensors, each
// aligned to 32 bytes, through common/atomic_file.h (temporary, fsync, rename), so an
// existing file is never left half-overwritten. LibTorch-free.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kernels/gguf_format.h"

namespace ternary::gguf {

class Writer {
 public:
  void set(const std::string& key, Value value);  // replaces an existing key
  // dims as GGUF stores them: the contiguous dimension first ({in, out} for a (out, in) matrix).
  void add_tensor(const std::string& name, std::vector<uint64_t> dims, TensorType type, std::vector<uint8_t> data);
  void write(const std::string& path) const;  // throws std::runtime_error naming the path

 private:
  struct Tensor {
    std::string name;
    std::vector<uint64_t> dims;
    TensorType type;
    std::vector<uint8_t> data;
  };
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<Tensor> tensors_;
};

}  // namespace ternary::gguf
