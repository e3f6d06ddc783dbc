// quantlinear: forward + backward time of QuantLinear (bitnet_b158) against torch::nn::Linear
// (fp32) on the same shapes and input, interleaved so both see the same machine state.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/nn/modules/linear.h>

#include <cstdio>
#include <vector>

#include "bench/bench_cases.h"
#include "bench/timing.h"
#include "modules/quant_linear.h"

namespace ternary::bench {
namespace {

struct Shape {
  int64_t in, out, tokens;
};

template <typename Layer>
void forward_backward(Layer& layer, const at::Tensor& x, const at::Tensor& grad) {
  for (auto& p : layer->parameters()) p.mutable_grad() = at::Tensor();
  const at::Tensor xin = x.detach().requires_grad_();
  layer->forward(xin).backward(grad);
}

}  // namespace

int run_quantlinear(const Options& options) {
  const std::vector<Shape> shapes = {{1024, 1024, 512}, {2048, 5632, 512}, {5632, 2048, 512}};
  for (const Shape& s : shapes) {
    at::manual_seed(0);
    torch::nn::Linear baseline(torch::nn::LinearOptions(s.in, s.out).bias(false));
    QuantLinear quant(QuantLinearOptions(s.in, s.out).bias(false));
    const at::Tensor x = at::randn({s.tokens, s.in});
    const at::Tensor grad = at::randn({s.tokens, s.out});
    for (int i = 0; i < 2; ++i) {  // warm-up: allocator, thread pool, caches
      forward_backward(baseline, x, grad);
      forward_backward(quant, x, grad);
    }
    std::vector<double> base_ms, quant_ms;
    for (int i = 0; i < options.repeats; ++i) {
      base_ms.push_back(time_ms([&] { forward_backward(baseline, x, grad); }));
      quant_ms.push_back(time_ms([&] { forward_backward(quant, x, grad); }));
    }
    const double b = median(base_ms), q = median(quant_ms);
    std::printf(
        "{\"bench\": \"quantlinear\", \"case\": \"forward_backward\", \"in_features\": %lld, \"out_features\": %lld, "
        "\"tokens\": %lld, \"threads\": %d, \"repeats\": %d, \"quantizers\": \"bitnet_b158\", "
        "\"baseline\": \"torch::nn::Linear fp32\", \"baseline_ms\": %.3f, \"quantlinear_ms\": %.3f, "
        "\"ratio\": %.3f, \"target_ratio\": 1.3}\n",
        static_cast<long long>(s.in), static_cast<long long>(s.out), static_cast<long long>(s.tokens),
        at::get_num_threads(), options.repeats, b, q, q / b);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace ternary::bench
