// Step -> learning rate (linear warm-up, then cosine decay to a floor) and step -> quantization
// warm-up λ (linear 0 -> 1). Pure functions of the step, so a resumed run follows the same curve.
#pragma once

#include <cstdint>

#include "train/train_config.h"

namespace ternary {

// lr for optimizer step `step` (0-based) of `total_steps`.
double scheduled_lr(const ScheduleConfig& schedule, double base_lr, int64_t step, int64_t total_steps);

// λ for step `step`: min(1, (step + 1) / warmup_steps); 1 when warmup_steps is 0.
double scheduled_quant_lambda(int64_t warmup_steps, int64_t step);

}  // namespace ternary
