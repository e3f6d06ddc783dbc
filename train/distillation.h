// Knowledge distillation from a teacher's logits (Hinton et al.): the student matches the
// teacher's temperature-softened distribution.
#pragma once

#include <ATen/core/Tensor.h>

namespace ternary {

// T^2 * KL(softmax(teacher / T) || softmax(student / T)), summed over the vocabulary and averaged
// over tokens. (..., vocab) logits of equal shape; the teacher gets no gradient.
at::Tensor distillation_loss(const at::Tensor& student_logits, const at::Tensor& teacher_logits, double temperature);

}  // namespace ternary
