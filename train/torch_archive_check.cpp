#include "train/torch_archive_check.h"

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ternary {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw std::runtime_error(path + ": " + message + " (corrupt torch archive; use another checkpoint)");
}

// Little-endian reads, each checked against the buffer.
class Bytes {
 public:
  Bytes(std::string_view data, const std::string& path) : data_(data), path_(path) {}
  template <typename T>
  T read(uint64_t offset) const {
    if (offset > data_.size() || sizeof(T) > data_.size() - offset) fail(path_, "a zip record runs past the end");
    T value;
    std::memcpy(&value, data_.data() + offset, sizeof value);
    return value;
  }
  std::string_view slice(uint64_t offset, uint64_t size) const {
    if (offset > data_.size() || size > data_.size() - offset) fail(path_, "a zip record runs past the end");
    return data_.substr(offset, size);
  }
  uint64_t size() const { return data_.size(); }

 private:
  std::string_view data_;
  const std::string& path_;
};

constexpr uint32_t kEndOfDirectory = 0x06054b50, kZip64Locator = 0x07064b50, kZip64End = 0x06064b50;
constexpr uint32_t kDirectoryEntry = 0x02014b50, kLocalHeader = 0x04034b50;

// Offset of the end-of-central-directory record: within the last 64 KiB + 22 bytes (its comment).
uint64_t find_end_of_directory(const Bytes& b, const std::string& path) {
  if (b.size() < 22) fail(path, "too short to be a zip file");
  const uint64_t lowest = b.size() > 22 + 65535 ? b.size() - 22 - 65535 : 0;
  for (uint64_t at = b.size() - 22;; --at) {
    if (b.read<uint32_t>(at) == kEndOfDirectory) return at;
    if (at == lowest) break;
  }
  fail(path, "no zip directory (not a torch archive)");
}

bool is_version_record(std::string_view name) {
  const auto slash = name.rfind('/');
  return (slash == std::string_view::npos ? name : name.substr(slash + 1)) == "version";
}

}  // namespace

void check_torch_archive(std::string_view data, const std::string& path) {
  const Bytes b(data, path);
  const uint64_t end = find_end_of_directory(b, path);
  uint64_t entries = b.read<uint16_t>(end + 10);
  uint64_t directory = b.read<uint32_t>(end + 16);
  if (entries == 0xFFFF || directory == 0xFFFFFFFF) {  // zip64: the real values are in the zip64 record
    if (end < 20 || b.read<uint32_t>(end - 20) != kZip64Locator) fail(path, "zip64 directory locator missing");
    const uint64_t record = b.read<uint64_t>(end - 20 + 8);
    if (b.read<uint32_t>(record) != kZip64End) fail(path, "zip64 directory record missing");
    entries = b.read<uint64_t>(record + 32);
    directory = b.read<uint64_t>(record + 48);
  }
  if (entries > b.size() / 46) fail(path, "the zip directory lists more entries than fit in the file");
  uint64_t at = directory;
  for (uint64_t i = 0; i < entries; ++i) {
    if (b.read<uint32_t>(at) != kDirectoryEntry) fail(path, "zip directory entry " + std::to_string(i) + " is damaged");
    const uint16_t method = b.read<uint16_t>(at + 10);
    uint64_t size = b.read<uint32_t>(at + 24);  // uncompressed
    const uint16_t name_length = b.read<uint16_t>(at + 28), extra_length = b.read<uint16_t>(at + 30);
    const uint16_t comment_length = b.read<uint16_t>(at + 32);
    uint64_t local = b.read<uint32_t>(at + 42);
    const std::string_view name = b.slice(at + 46, name_length);
    if (size == 0xFFFFFFFF || local == 0xFFFFFFFF) {  // zip64 extra field (id 1): sizes, then offset
      for (uint64_t x = at + 46 + name_length; x + 4 <= at + 46 + name_length + extra_length;) {
        const uint16_t id = b.read<uint16_t>(x), length = b.read<uint16_t>(x + 2);
        if (id == 1) {
          uint64_t field = x + 4;
          if (size == 0xFFFFFFFF) size = b.read<uint64_t>(field), field += 8;
          if (b.read<uint32_t>(at + 20) == 0xFFFFFFFF) field += 8;  // compressed size
          if (local == 0xFFFFFFFF) local = b.read<uint64_t>(field);
        }
        x += 4 + length;
      }
    }
    if (is_version_record(name)) {
      const std::string record(name);
      if (method != 0) fail(path, "record " + record + " is compressed; torch archives store it plainly");
      if (b.read<uint32_t>(local) != kLocalHeader) fail(path, "record " + record + " has no local header");
      const uint64_t payload = local + 30 + b.read<uint16_t>(local + 26) + b.read<uint16_t>(local + 28);
      const std::string_view value = b.slice(payload, size);
      bool digits = !value.empty() && value.size() <= 20;
      for (size_t k = 0; k < value.size() && digits; ++k)
        digits = (value[k] >= '0' && value[k] <= '9') || (k > 0 && k + 1 == value.size() && value[k] == '\n');
      if (!digits) fail(path, "record " + record + " is not a version number");
    }
    at += 46 + name_length + extra_length + comment_length;
  }
}

}  // namespace ternary
