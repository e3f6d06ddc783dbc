#include "train/distillation.h"

#include <ATen/ATen.h>

namespace ternary {

at::Tensor distillation_loss(const at::Tensor& student_logits, const at::Tensor& teacher_logits, double temperature) {
  TORCH_CHECK(student_logits.sizes() == teacher_logits.sizes(), "distillation: student logits ",
              student_logits.sizes(), " and teacher logits ", teacher_logits.sizes(),
              " differ (teacher and student need the same vocabulary)");
  TORCH_CHECK(temperature > 0, "distillation: temperature must be > 0, got ", temperature);
  const int64_t vocab = student_logits.size(-1);
  const at::Tensor log_p_student = at::log_softmax(student_logits.reshape({-1, vocab}).to(at::kFloat) / temperature, 1);
  const at::Tensor log_p_teacher =
      at::log_softmax(teacher_logits.detach().reshape({-1, vocab}).to(at::kFloat) / temperature, 1);
  const at::Tensor kl = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(1).mean();
  return kl * (temperature * temperature);
}

}  // namespace ternary
