// The one way this project writes a file: to a temporary beside it, fsync'ed, renamed over the
// target, then the directory fsync'ed. A crash, a full disk or an exception leaves either the old
// file or the complete new one, never a mix, and no temporary behind. LibTorch-free.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ternary {

// Streams a file into place: write() any number of times, then commit(). Destroyed without
// commit() (an error on the way), it removes its temporary and leaves the target untouched.
// Errors are std::runtime_error naming the target path and the reason.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t size);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  uint64_t bytes_written() const { return written_; }
  // Overwrites bytes already written, at `offset` (a header filled in once the body is known).
  void rewrite_at(uint64_t offset, const void* data, size_t size);
  void commit();  // fsync, rename over the target, fsync its directory

 private:
  std::string path_, temp_;
  int fd_ = -1;
  uint64_t written_ = 0;
};

// The whole file at once.
void write_file_atomic(const std::string& path, std::string_view bytes);

// fsync a directory, so a rename inside it survives a power cut. Errors are reported.
void sync_directory(const std::string& dir);

}  // namespace ternary
