// An owned block of CUDA device memory (cudaMalloc/cudaFree), move-only, with typed views and
// blocking copies to and from the host. Keeps cuda_runtime.h out of the headers that use it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ternary::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);  // throws std::runtime_error naming the size on failure
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  size_t bytes() const { return bytes_; }
  template <typename T>
  T* as() const { return static_cast<T*>(data_); }
  // Grows (never shrinks) to at least `bytes`; contents are not kept.
  void reserve(size_t bytes);
  void upload(const void* host, size_t bytes, size_t offset = 0);
  void download(void* host, size_t bytes, size_t offset = 0) const;

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace ternary::cuda
