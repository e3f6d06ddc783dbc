#include "train/tensorboard_events.h"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "common/crc32c.h"

namespace ternary {
namespace {

// Protobuf wire format: field key = (number << 3) | wire type; 0 varint, 1 fixed64, 2 bytes, 5 fixed32.
void put_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7F) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
}

template <typename T>
void put_fixed(std::string& out, T value) {  // little-endian, as x86 stores it
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_varint(out, static_cast<uint64_t>(field) << 3 | 2);
  put_varint(out, bytes.size());
  out += bytes;
}

// Event field numbers (event.proto).
constexpr int kWallTime = 1, kStep = 2, kFileVersion = 3, kSummary = 5, kSessionLog = 7;
// Summary.value = 1; Summary.Value: tag = 1, simple_value = 2; SessionLog: status = 1 (START = 1).
constexpr int kSummaryValue = 1, kValueTag = 1, kValueSimple = 2, kSessionStatus = 1, kSessionStart = 1;

std::string step_field(int64_t step) {
  std::string out;
  put_varint(out, kStep << 3);
  put_varint(out, static_cast<uint64_t>(step));
  return out;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

TensorBoardWriter::TensorBoardWriter(const std::string& dir, int64_t start_step, Clock clock)
    : clock_(clock ? std::move(clock) : Clock([] {
        return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
      })) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  const double now = clock_();
  path_ = dir + "/events.out.tfevents." + std::to_string(static_cast<int64_t>(now)) + "." + host_name();
  for (int suffix = 1; std::filesystem::exists(path_); ++suffix)  // two runs in one second
    path_ = dir + "/events.out.tfevents." + std::to_string(static_cast<int64_t>(now)) + "." + host_name() + "." +
            std::to_string(suffix);
  out_.open(path_, std::ios::binary);
  if (!out_) throw std::runtime_error("cannot write TensorBoard events " + path_ + " (check output_dir)");
  std::string version;
  put_bytes(version, kFileVersion, "brain.Event:2");
  write_event(version);
  std::string start;
  put_varint(start, kSessionStatus << 3);
  put_varint(start, kSessionStart);
  std::string session = step_field(start_step);
  put_bytes(session, kSessionLog, start);
  write_event(session);
}

void TensorBoardWriter::scalar(const std::string& tag, int64_t step, float value) {
  std::string value_message;
  put_bytes(value_message, kValueTag, tag);
  put_varint(value_message, kValueSimple << 3 | 5);
  put_fixed(value_message, value);
  std::string summary;
  put_bytes(summary, kSummaryValue, value_message);
  std::string body = step_field(step);
  put_bytes(body, kSummary, summary);
  write_event(body);
}

void TensorBoardWriter::write_event(const std::string& event_body) {
  std::string event;
  put_varint(event, kWallTime << 3 | 1);
  put_fixed(event, clock_());
  event += event_body;
  std::string record;
  put_fixed(record, static_cast<uint64_t>(event.size()));
  put_fixed(record, masked_crc32c(record.data(), 8));
  record += event;
  put_fixed(record, masked_crc32c(event.data(), event.size()));
  out_.write(record.data(), static_cast<std::streamsize>(record.size()));
  out_.flush();
  if (!out_) throw std::runtime_error("cannot write TensorBoard events " + path_ + " (disk full?)");
}

}  // namespace ternary
