// training.autocast: bf16 — the forward pass under LibTorch's autocast (matmuls in bfloat16, losses
// and reductions in float32; parameters, gradients and optimizer state stay float32). An RAII scope
// so an exception thrown mid-forward cannot leave autocast switched on.
#pragma once

#include <ATen/autocast_mode.h>

namespace ternary {

class AutocastScope {
 public:
  // `dtype`: bfloat16 for training.autocast; activation checkpointing restores a forward's own.
  AutocastScope(bool enabled, at::DeviceType device, at::ScalarType dtype = at::kBFloat16)
      : enabled_(enabled), device_(device) {
    if (!enabled_) return;
    was_enabled_ = at::autocast::is_autocast_enabled(device_);
    previous_dtype_ = at::autocast::get_autocast_dtype(device_);
    at::autocast::set_autocast_dtype(device_, dtype);
    at::autocast::set_autocast_enabled(device_, true);
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();  // cached bf16 weight casts
    at::autocast::set_autocast_enabled(device_, was_enabled_);
    at::autocast::set_autocast_dtype(device_, previous_dtype_);
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
  at::DeviceType device_;
  bool was_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
};

}  // namespace ternary
