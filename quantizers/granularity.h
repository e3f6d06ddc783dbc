// Granularity: which elements share one scale. Every quantizer works on a 2-D (rows, cols)
// view of its input in which each row shares one scale (and threshold); this maps shapes to it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ternary {

enum class GranularityKind {
  kTensor,   // one scale for the whole tensor                      -> (1, numel)
  kChannel,  // one per output channel (dim 0 of a weight)           -> (shape[0], numel/shape[0])
  kGroup,    // one per G consecutive elements of each output channel -> (numel/G, G)
  kToken,    // one per token: all dims but the last (activations)    -> (numel/shape[-1], shape[-1])
};

struct Granularity {
  GranularityKind kind = GranularityKind::kTensor;
  int64_t group_size = 0;  // kGroup only

  static Granularity tensor() { return {GranularityKind::kTensor, 0}; }
  static Granularity channel() { return {GranularityKind::kChannel, 0}; }
  static Granularity group(int64_t size) { return {GranularityKind::kGroup, size}; }
  static Granularity token() { return {GranularityKind::kToken, 0}; }

  // (rows, cols) of the view for a tensor of this shape; throws std::invalid_argument naming
  // the shape when it does not fit (a group size that does not divide a channel, a scalar, ...).
  std::pair<int64_t, int64_t> rows_and_cols(const std::vector<int64_t>& shape) const;
  std::string describe() const;  // "tensor", "channel", "group128", "token"

  bool operator==(const Granularity&) const = default;
};

}  // namespace ternary
