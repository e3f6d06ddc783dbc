// optim: one optimizer step over ~16.8M fp32 parameters (4 x 2048x2048), AdamW8bit against
// torch::optim::AdamW, interleaved; plus bytes of optimizer state per parameter measured from
// the state tensors of both.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/optim/adamw.h>

#include <cstdio>
#include <vector>

#include "bench/bench_cases.h"
#include "bench/timing.h"
#include "optim/adamw8bit.h"

namespace ternary::bench {
namespace {

std::vector<at::Tensor> make_params(int count, int64_t rows, int64_t cols) {
  std::vector<at::Tensor> params;
  for (int i = 0; i < count; ++i) {
    at::Tensor p = at::randn({rows, cols}).requires_grad_();
    p.mutable_grad() = at::randn({rows, cols}) * 0.01;
    params.push_back(p);
  }
  return params;
}

int64_t adamw_state_bytes(const torch::optim::AdamW& opt) {
  int64_t total = 0;
  for (const auto& [key, state] : opt.state()) {
    const auto& s = static_cast<const torch::optim::AdamWParamState&>(*state);
    for (const at::Tensor& t : {s.exp_avg(), s.exp_avg_sq(), s.max_exp_avg_sq()})
      if (t.defined()) total += t.numel() * t.element_size();
  }
  return total;
}

}  // namespace

int run_optim(const Options& options) {
  at::manual_seed(0);
  const int count = 4;
  const int64_t rows = 2048, cols = 2048, n = count * rows * cols;
  std::vector<at::Tensor> ours_params = make_params(count, rows, cols), base_params = make_params(count, rows, cols);
  AdamW8bit ours(ours_params, AdamW8bitOptions(1e-3).weight_decay(0.01));
  torch::optim::AdamW baseline(base_params, torch::optim::AdamWOptions(1e-3).weight_decay(0.01));
  for (int i = 0; i < 2; ++i) {  // warm-up; creates the state
    ours.step();
    baseline.step();
  }
  std::vector<double> ours_ms, base_ms;
  for (int i = 0; i < options.repeats; ++i) {
    base_ms.push_back(time_ms([&] { baseline.step(); }));
    ours_ms.push_back(time_ms([&] { ours.step(); }));
  }
  const double o = median(ours_ms), b = median(base_ms);
  const double ours_bytes = static_cast<double>(ours.state_bytes()) / n;
  const double base_bytes = static_cast<double>(adamw_state_bytes(baseline)) / n;
  std::printf(
      "{\"bench\": \"optim\", \"case\": \"adamw_step\", \"parameters\": %lld, \"tensors\": \"%dx%lldx%lld fp32\", "
      "\"threads\": %d, \"repeats\": %d, \"baseline\": \"torch::optim::AdamW\", \"baseline_ms\": %.3f, "
      "\"adamw8bit_ms\": %.3f, \"ratio\": %.3f, \"target_ratio\": 0.5, \"baseline_state_bytes_per_param\": %.4f, "
      "\"adamw8bit_state_bytes_per_param\": %.4f, \"target_state_bytes_per_param\": 2.04}\n",
      static_cast<long long>(n), count, static_cast<long long>(rows), static_cast<long long>(cols),
      at::get_num_threads(), options.repeats, b, o, o / b, base_bytes, ours_bytes);
  std::fflush(stdout);
  return 0;
}

}  // namespace ternary::bench
