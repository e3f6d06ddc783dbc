// The state of a sharded 8-bit optimizer (ZeRO stage 1) in a checkpoint, and moving state between
// sharded and unsharded layouts. Each rank writes the states of its pieces (GradientReducer's
// block-aligned ranges of parameters) to its own file, every piece under its parameter's name and
// range. Because every piece starts on a 256-element block boundary of its parameter, a range's
// codes and block scales are slices of the whole parameter's, so a reader can cut the saved ranges
// again for any other world size, or join them into whole parameters for an unsharded optimizer.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "optim/blockwise_optimizer.h"

namespace torch::serialize {
class InputArchive;
class OutputArchive;
}  // namespace torch::serialize

namespace ternary {

// A range [offset, offset + values.numel()) of the flattened parameter `name`; `values` is the
// tensor the optimizer steps (a view of the parameter, or the whole parameter).
struct StateRange {
  std::string name;
  int64_t offset = 0;
  at::Tensor values;
};

// The checkpoint file of rank `rank` of `world_size`: "optimizer_shard_<rank>_of_<world_size>.pt".
std::string optimizer_shard_file(int rank, int world_size);
// True for such a file name.
bool is_optimizer_shard_file(const std::string& name);

// Writes the state of every range that has one (ranges never stepped have none).
void save_range_states(torch::serialize::OutputArchive& archive, const Blockwise8bitOptimizer& optimizer,
                       const std::vector<StateRange>& ranges);

// A saved range's state, read back.
struct SavedRange {
  std::string name;
  int64_t offset = 0, length = 0;
  Blockwise8bitParamState state;
};
// Reads what save_range_states wrote; `file` names it in errors.
std::vector<SavedRange> read_range_states(torch::serialize::InputArchive& archive, const std::string& file);
// The saved state of every parameter of an unsharded optimizer, as whole-parameter ranges.
std::vector<SavedRange> whole_parameter_states(const Blockwise8bitOptimizer& optimizer,
                                               const std::vector<StateRange>& parameters);

// Gives each of `ranges` (of `optimizer`'s parameters) its state, cut from `saved`. A range that
// no saved range touches keeps no state (never stepped); one that is only partly covered, or
// covered by states of different kinds or steps, is an error naming the parameter.
void restore_range_states(Blockwise8bitOptimizer& optimizer, const std::vector<StateRange>& ranges,
                          const std::vector<SavedRange>& saved);

}  // namespace ternary
