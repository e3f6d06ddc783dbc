#include "export/gguf_writer.h"

#include <stdexcept>

#include "common/atomic_file.h"

namespace ternary::gguf {
namespace {

class Buffer {
 public:
  template <typename T>
  void put(T value) {
    const auto* p = reinterpret_cast<const uint8_t*>(&value);
    bytes.insert(bytes.end(), p, p + sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
  }
  void pad_to(uint64_t alignment) { bytes.resize((bytes.size() + alignment - 1) / alignment * alignment, 0); }
  std::vector<uint8_t> bytes;
};

void put_scalar(Buffer& out, ValueType type, const Value& v, size_t index) {
  auto integer = [&]() -> int64_t {
    if (v.type == ValueType::kArray) return std::get<std::vector<int64_t>>(v.data).at(index);
    return std::get<int64_t>(v.data);
  };
  auto number = [&]() -> double {
    if (v.type == ValueType::kArray) return std::get<std::vector<double>>(v.data).at(index);
    return std::get<double>(v.data);
  };
  switch (type) {
    case ValueType::kUint8: out.put<uint8_t>(static_cast<uint8_t>(integer())); break;
    case ValueType::kInt8: out.put<int8_t>(static_cast<int8_t>(integer())); break;
    case ValueType::kUint16: out.put<uint16_t>(static_cast<uint16_t>(integer())); break;
    case ValueType::kInt16: out.put<int16_t>(static_cast<int16_t>(integer())); break;
    case ValueType::kUint32: out.put<uint32_t>(static_cast<uint32_t>(integer())); break;
    case ValueType::kInt32: out.put<int32_t>(static_cast<int32_t>(integer())); break;
    case ValueType::kUint64: out.put<uint64_t>(static_cast<uint64_t>(integer())); break;
    case ValueType::kInt64: out.put<int64_t>(integer()); break;
    case ValueType::kFloat32: out.put<float>(static_cast<float>(number())); break;
    case ValueType::kFloat64: out.put<double>(number()); break;
    case ValueType::kBool: out.put<uint8_t>(std::get<bool>(v.data) ? 1 : 0); break;
    case ValueType::kString:
      out.put_string(v.type == ValueType::kArray ? std::get<std::vector<std::string>>(v.data).at(index)
                                                 : std::get<std::string>(v.data));
      break;
    case ValueType::kArray: throw std::invalid_argument("GGUF: nested arrays are not supported");
  }
}

size_t array_size(const Value& v) {
  return std::visit(
      [](const auto& d) -> size_t {
        using D = std::decay_t<decltype(d)>;
        if constexpr (std::is_same_v<D, std::vector<int64_t>> || std::is_same_v<D, std::vector<double>> ||
                      std::is_same_v<D, std::vector<std::string>>)
          return d.size();
        else
          return 0;
      },
      v.data);
}

}  // namespace

void Writer::set(const std::string& key, Value value) {
  for (auto& [k, v] : metadata_)
    if (k == key) {
      v = std::move(value);
      return;
    }
  metadata_.emplace_back(key, std::move(value));
}

void Writer::add_tensor(const std::string& name, std::vector<uint64_t> dims, TensorType type, std::vector<uint8_t> data) {
  uint64_t elements = 1;
  for (uint64_t d : dims) elements *= d;
  if (dims.empty() || elements % block_elements(type) != 0 || dims[0] % block_elements(type) != 0)
    throw std::invalid_argument("GGUF tensor '" + name + "': its first dimension must be a multiple of " +
                                std::to_string(block_elements(type)) + " for " + to_string(type));
  if (data.size() != tensor_bytes(type, elements))
    throw std::invalid_argument("GGUF tensor '" + name + "': " + std::to_string(data.size()) + " bytes for " +
                                std::to_string(elements) + " " + to_string(type) + " values");
  tensors_.push_back({name, std::move(dims), type, std::move(data)});
}

void Writer::write(const std::string& path) const {
  Buffer head;
  head.put<uint32_t>(kMagic);
  head.put<uint32_t>(kVersion);
  head.put<uint64_t>(tensors_.size());
  head.put<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    head.put_string(key);
    head.put<uint32_t>(static_cast<uint32_t>(value.type));
    if (value.type == ValueType::kArray) {
      head.put<uint32_t>(static_cast<uint32_t>(value.array_type));
      const size_t n = array_size(value);
      head.put<uint64_t>(n);
      for (size_t i = 0; i < n; ++i) put_scalar(head, value.array_type, value, i);
    } else {
      put_scalar(head, value.type, value, 0);
    }
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    head.put_string(t.name);
    head.put<uint32_t>(static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) head.put<uint64_t>(d);
    head.put<uint32_t>(static_cast<uint32_t>(t.type));
    head.put<uint64_t>(offset);
    offset += (t.data.size() + kDefaultAlignment - 1) / kDefaultAlignment * kDefaultAlignment;
  }
  head.pad_to(kDefaultAlignment);

  AtomicFileWriter out(path);
  out.write(head.bytes.data(), head.bytes.size());
  const std::vector<uint8_t> zeros(kDefaultAlignment, 0);
  for (const Tensor& t : tensors_) {
    out.write(t.data.data(), t.data.size());
    out.write(zeros.data(), (kDefaultAlignment - t.data.size() % kDefaultAlignment) % kDefaultAlignment);
  }
  out.commit();
}

}  // namespace ternary::gguf
