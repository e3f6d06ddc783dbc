// A GGUF v3 file, memory-mapped and validated (kernels/gguf_format.h). Every count, length and
// offset is checked against the file size before use, so a truncated or corrupt file is a clear
// error naming the file and what is wrong, never a crash. LibTorch-free.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kernels/gguf_format.h"

namespace ternary::gguf {

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // contiguous dimension first
  TensorType type;
  const uint8_t* data;         // into the mapping
  uint64_t bytes;
  uint64_t elements() const;
};

class File {
 public:
  explicit File(const std::string& path);  // throws std::runtime_error "<path>: ..."
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  const std::map<std::string, Value>& metadata() const { return metadata_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  bool has(const std::string& key) const { return metadata_.count(key) > 0; }
  // Typed accessors; a missing key or another type is an error naming the key.
  int64_t integer(const std::string& key) const;
  double number(const std::string& key) const;  // float32/64 or an integer
  const std::string& string(const std::string& key) const;
  const Value& value(const std::string& key) const;
  const TensorInfo& tensor(const std::string& name) const;  // error when missing
  const TensorInfo* find_tensor(const std::string& name) const;

 private:
  std::string path_;
  void* mapping_ = nullptr;
  uint64_t size_ = 0;
  std::map<std::string, Value> metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace ternary::gguf
