// TensorBoard event files, so `training.tensorboard: true` runs show their curves in TensorBoard
// beside metrics.jsonl. The format is small and written here directly: a file
// events.out.tfevents.<unix seconds>.<host> of TFRecords (uint64 length, masked CRC-32C of it,
// the bytes, their masked CRC-32C), each an Event protobuf (tensorflow/core/util/event.proto):
// first file_version "brain.Event:2", then a SessionLog START at the run's first step (TensorBoard
// then drops what an earlier, resumed-over run wrote past it, as metrics.jsonl is truncated), then
// one Event per scalar with its step and a Summary.Value{tag, simple_value}.
// Hand-encoding three messages avoids a protobuf build step for the whole project (libprotobuf
// would fit, but needs protoc and generated sources for ~60 lines of encoding). Checked against
// the `tensorboard` package itself (tests/golden/tensorboard_events.py). LibTorch-free.
#pragma once

#include <cstdint>
#include <fstream>
#include <functional>
#include <string>

namespace ternary {

class TensorBoardWriter {
 public:
  using Clock = std::function<double()>;  // wall time in seconds; tests fix it
  // Creates `dir` and a new event file in it; throws std::runtime_error naming it on failure.
  TensorBoardWriter(const std::string& dir, int64_t start_step, Clock clock = {});
  void scalar(const std::string& tag, int64_t step, float value);  // flushed: a killed run keeps its curve
  const std::string& path() const { return path_; }

 private:
  void write_event(const std::string& event_body);  // the Event's fields after wall_time
  std::string path_;
  std::ofstream out_;
  Clock clock_;
};

}  // namespace ternary
