#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace ternary {

double scheduled_lr(const ScheduleConfig& schedule, double base_lr, int64_t step, int64_t total_steps) {
  const int64_t warmup = schedule.warmup_steps;
  if (step < warmup) return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const int64_t decay_end = schedule.decay_steps > 0 ? schedule.decay_steps : total_steps;
  const double floor = base_lr * schedule.min_lr_ratio;
  if (step >= decay_end || decay_end <= warmup) return floor;
  const double progress = static_cast<double>(step - warmup) / static_cast<double>(decay_end - warmup);
  return floor + 0.5 * (base_lr - floor) * (1.0 + std::cos(M_PI * progress));
}

double scheduled_quant_lambda(int64_t warmup_steps, int64_t step) {
  if (warmup_steps <= 0) return 1.0;
  return std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(warmup_steps));
}

}  // namespace ternary
