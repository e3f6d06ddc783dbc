#include "runtime/gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace ternary::gguf {
namespace {

// A bounds-checked cursor over the mapped bytes.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size, const std::string& path) : data_(data), size_(size), path_(path) {}
  template <typename T>
  T get(const char* what) {
    need(sizeof(T), what);
    T value;
    std::memcpy(&value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }
  std::string get_string(const char* what) {
    const auto n = get<uint64_t>(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  uint64_t position() const { return pos_; }
  [[noreturn]] void fail(const std::string& message) const {
    throw std::runtime_error(path_ + ": " + message + " (re-export the model with ternary-export)");
  }

 private:
  void need(uint64_t n, const char* what) const {
    if (n > size_ - pos_)
      fail("truncated at byte " + std::to_string(pos_) + " while reading " + what + " (file has " +
           std::to_string(size_) + " bytes)");
  }
  const uint8_t* data_;
  uint64_t size_, pos_ = 0;
  std::string path_;
};

Value read_value(Cursor& c, ValueType type, int depth);

Value read_scalar(Cursor& c, ValueType type) {
  switch (type) {
    case ValueType::kUint8: return {type, type, int64_t{c.get<uint8_t>("a uint8")}};
    case ValueType::kInt8: return {type, type, int64_t{c.get<int8_t>("an int8")}};
    case ValueType::kUint16: return {type, type, int64_t{c.get<uint16_t>("a uint16")}};
    case ValueType::kInt16: return {type, type, int64_t{c.get<int16_t>("an int16")}};
    case ValueType::kUint32: return {type, type, int64_t{c.get<uint32_t>("a uint32")}};
    case ValueType::kInt32: return {type, type, int64_t{c.get<int32_t>("an int32")}};
    case ValueType::kUint64: return {type, type, static_cast<int64_t>(c.get<uint64_t>("a uint64"))};
    case ValueType::kInt64: return {type, type, c.get<int64_t>("an int64")};
    case ValueType::kFloat32: return {type, type, double{c.get<float>("a float32")}};
    case ValueType::kFloat64: return {type, type, c.get<double>("a float64")};
    case ValueType::kBool: return {type, type, c.get<uint8_t>("a bool") != 0};
    case ValueType::kString: return {type, type, c.get_string("a string")};
    default: c.fail("unknown metadata value type " + std::to_string(static_cast<uint32_t>(type)));
  }
}

Value read_value(Cursor& c, ValueType type, int depth) {
  if (type != ValueType::kArray) return read_scalar(c, type);
  if (depth > 0) c.fail("nested metadata arrays are not supported");
  const auto element = static_cast<ValueType>(c.get<uint32_t>("an array type"));
  const auto n = c.get<uint64_t>("an array length");
  Value v{ValueType::kArray, element, int64_t{0}};
  if (element == ValueType::kString) {
    std::vector<std::string> items;
    for (uint64_t i = 0; i < n; ++i) items.push_back(c.get_string("an array string"));
    v.data = std::move(items);
  } else if (element == ValueType::kFloat32 || element == ValueType::kFloat64) {
    std::vector<double> items;
    for (uint64_t i = 0; i < n; ++i) items.push_back(std::get<double>(read_scalar(c, element).data));
    v.data = std::move(items);
  } else if (element == ValueType::kBool || element == ValueType::kArray) {
    c.fail("unsupported metadata array element type " + std::to_string(static_cast<uint32_t>(element)));
  } else {
    std::vector<int64_t> items;
    for (uint64_t i = 0; i < n; ++i) items.push_back(std::get<int64_t>(read_scalar(c, element).data));
    v.data = std::move(items);
  }
  return v;
}

}  // namespace

uint64_t TensorInfo::elements() const {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return n;
}

File::File(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(path + ": cannot open the model file (" + std::strerror(errno) + ")");
  struct stat st{};
  ::fstat(fd, &st);
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ > 0) {
    mapping_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping_ == MAP_FAILED) {
      mapping_ = nullptr;
      ::close(fd);
      throw std::runtime_error(path + ": cannot map the model file (" + std::strerror(errno) + ")");
    }
  }
  ::close(fd);
  try {
    const auto* bytes = static_cast<const uint8_t*>(mapping_);
    Cursor c(bytes, size_, path);
    if (size_ < 4 || c.get<uint32_t>("the magic") != kMagic) c.fail("not a GGUF file (bad magic)");
    const auto version = c.get<uint32_t>("the version");
    if (version != kVersion) c.fail("GGUF version " + std::to_string(version) + " is not supported (need 3)");
    const auto n_tensors = c.get<uint64_t>("the tensor count");
    const auto n_metadata = c.get<uint64_t>("the metadata count");
    if (n_tensors > size_ || n_metadata > size_) c.fail("corrupt header (impossible counts)");
    for (uint64_t i = 0; i < n_metadata; ++i) {
      std::string key = c.get_string("a metadata key");
      const auto type = static_cast<ValueType>(c.get<uint32_t>("a metadata type"));
      metadata_[key] = read_value(c, type, 0);
    }
    uint64_t alignment = kDefaultAlignment;
    if (has(key::kAlignment)) alignment = static_cast<uint64_t>(integer(key::kAlignment));
    if (alignment == 0 || (alignment & (alignment - 1))) c.fail("general.alignment must be a power of two");
    std::vector<uint64_t> offsets;
    for (uint64_t i = 0; i < n_tensors; ++i) {
      TensorInfo t;
      t.name = c.get_string("a tensor name");
      const auto n_dims = c.get<uint32_t>("a tensor's dimension count");
      if (n_dims == 0 || n_dims > 4) c.fail("tensor '" + t.name + "' has " + std::to_string(n_dims) + " dimensions");
      for (uint32_t d = 0; d < n_dims; ++d) t.dims.push_back(c.get<uint64_t>("a tensor dimension"));
      const auto type = c.get<uint32_t>("a tensor type");
      if (!is_known(type))
        c.fail("tensor '" + t.name + "' has ggml type " + std::to_string(type) +
               ", which this runtime does not support (F32, F16, TQ1_0, TQ2_0)");
      t.type = static_cast<TensorType>(type);
      for (uint64_t d : t.dims)
        if (d == 0 || d > (uint64_t{1} << 40)) c.fail("tensor '" + t.name + "' has an impossible dimension");
      if (t.dims[0] % static_cast<uint64_t>(block_elements(t.type)) != 0)
        c.fail("tensor '" + t.name + "': first dimension is not a multiple of the " + to_string(t.type) + " block");
      t.bytes = tensor_bytes(t.type, t.elements());
      offsets.push_back(c.get<uint64_t>("a tensor offset"));
      tensor_index_[t.name] = tensors_.size();
      tensors_.push_back(std::move(t));
    }
    const uint64_t data_start = (c.position() + alignment - 1) / alignment * alignment;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      TensorInfo& t = tensors_[i];
      if (offsets[i] % alignment != 0) c.fail("tensor '" + t.name + "' data is not aligned");
      if (data_start > size_ || offsets[i] > size_ - data_start || t.bytes > size_ - data_start - offsets[i])
        c.fail("tensor '" + t.name + "' data lies beyond the end of the file (truncated?)");
      t.data = bytes + data_start + offsets[i];
    }
  } catch (...) {
    if (mapping_) ::munmap(mapping_, size_);
    throw;
  }
}

File::~File() {
  if (mapping_) ::munmap(mapping_, size_);
}

const Value& File::value(const std::string& key) const {
  const auto found = metadata_.find(key);
  if (found == metadata_.end()) throw std::runtime_error(path_ + ": metadata key '" + key + "' is missing");
  return found->second;
}

int64_t File::integer(const std::string& key) const {
  const Value& v = value(key);
  if (const auto* i = std::get_if<int64_t>(&v.data)) return *i;
  throw std::runtime_error(path_ + ": metadata key '" + key + "' is not an integer");
}

double File::number(const std::string& key) const {
  const Value& v = value(key);
  if (const auto* d = std::get_if<double>(&v.data)) return *d;
  if (const auto* i = std::get_if<int64_t>(&v.data)) return static_cast<double>(*i);
  throw std::runtime_error(path_ + ": metadata key '" + key + "' is not a number");
}

const std::string& File::string(const std::string& key) const {
  const Value& v = value(key);
  if (const auto* s = std::get_if<std::string>(&v.data)) return *s;
  throw std::runtime_error(path_ + ": metadata key '" + key + "' is not a string");
}

const TensorInfo* File::find_tensor(const std::string& name) const {
  const auto found = tensor_index_.find(name);
  return found == tensor_index_.end() ? nullptr : &tensors_[found->second];
}

const TensorInfo& File::tensor(const std::string& name) const {
  if (const TensorInfo* t = find_tensor(name)) return *t;
  throw std::runtime_error(path_ + ": tensor '" + name + "' is missing (not a complete ternary-export model?)");
}

}  // namespace ternary::gguf
