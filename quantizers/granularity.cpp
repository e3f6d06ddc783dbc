#include "quantizers/granularity.h"

#include <functional>
#include <numeric>
#include <stdexcept>

namespace ternary {
namespace {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

std::pair<int64_t, int64_t> Granularity::rows_and_cols(const std::vector<int64_t>& shape) const {
  const int64_t numel = std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
  if (numel == 0) throw std::invalid_argument("cannot quantize an empty tensor of shape " + shape_string(shape));
  switch (kind) {
    case GranularityKind::kTensor: return {1, numel};
    case GranularityKind::kChannel:
      if (shape.size() < 2)
        throw std::invalid_argument("channel granularity needs a tensor with >= 2 dims, got shape " +
                                    shape_string(shape));
      return {shape[0], numel / shape[0]};
    case GranularityKind::kGroup: {
      if (group_size <= 0) throw std::invalid_argument("group granularity needs group_size > 0");
      const int64_t per_channel = shape.size() < 2 ? numel : numel / shape[0];
      if (per_channel % group_size != 0)
        throw std::invalid_argument("group size " + std::to_string(group_size) + " does not divide the " +
                                    std::to_string(per_channel) + " elements per channel of shape " +
                                    shape_string(shape) + "; pick a group size that divides it");
      return {numel / group_size, group_size};
    }
    case GranularityKind::kToken:
      if (shape.empty()) throw std::invalid_argument("token granularity needs a tensor with >= 1 dim");
      return {numel / shape.back(), shape.back()};
  }
  return {1, numel};
}

std::string Granularity::describe() const {
  switch (kind) {
    case GranularityKind::kTensor: return "tensor";
    case GranularityKind::kChannel: return "channel";
    case GranularityKind::kGroup: return "group" + std::to_string(group_size);
    case GranularityKind::kToken: return "token";
  }
  return "?";
}

}  // namespace ternary
