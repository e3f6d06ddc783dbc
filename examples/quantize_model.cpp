// Example: quantization-aware training of a user's own torch::nn model with Ternary Engine.
// Builds an MLP, swaps its Linear layers for ternary QuantLinear with a recipe (a YAML file
// given as argv[1], or the bitnet_b158 preset), trains a float copy with torch::optim::AdamW and
// the ternary copy with AdamW8bit on the same synthetic task, and round-trips the ternary model
// and its optimizer through torch::save / torch::load.
#include <ternary/modules/quantize.h>
#include <ternary/optim/adamw8bit.h>
#include <ternary/quantizers/recipe.h>
#include <torch/torch.h>

#include <cstdio>
#include <iostream>
#include <sstream>

namespace {

torch::nn::Sequential make_mlp() {
  return torch::nn::Sequential(torch::nn::Linear(32, 256), torch::nn::ReLU(), torch::nn::Linear(256, 256),
                               torch::nn::ReLU(), torch::nn::Linear(256, 10));
}

// Labels from a fixed random "teacher" so the task is learnable but not trivial.
std::pair<torch::Tensor, torch::Tensor> make_data(int64_t n) {
  torch::manual_seed(7);
  const auto teacher = torch::randn({32, 10});
  const auto x = torch::randn({n, 32});
  return {x, torch::matmul(torch::tanh(x), teacher).argmax(1)};
}

double train(torch::nn::Sequential& model, torch::optim::Optimizer& optimizer, const torch::Tensor& x,
             const torch::Tensor& y, int steps) {
  for (int step = 0; step < steps; ++step) {
    const auto idx = torch::randint(x.size(0), {256}, torch::kLong);
    const auto loss = torch::nn::functional::cross_entropy(model->forward(x.index_select(0, idx)),
                                                          y.index_select(0, idx));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  torch::NoGradGuard no_grad;
  return model->forward(x).argmax(1).eq(y).to(torch::kFloat).mean().item<double>();
}

}  // namespace

int main(int argc, char** argv) try {
  torch::set_num_threads(2);
  const auto [x, y] = make_data(8192);

  torch::manual_seed(0);
  auto float_model = make_mlp();
  torch::optim::AdamW float_optimizer(float_model->parameters(), torch::optim::AdamWOptions(3e-3).weight_decay(0.0));
  const double float_accuracy = train(float_model, float_optimizer, x, y, 600);

  torch::manual_seed(0);
  auto ternary_model = make_mlp();
  const ternary::Recipe recipe = argc > 1 ? ternary::Recipe::from_yaml_file(argv[1])
                                          : ternary::Recipe::from_yaml_string(R"(
rules:
  - match: "4"            # the classifier head stays full precision, like an lm_head
    preset: none
  - match: "*"
    preset: bitnet_b158   # ternary absmean weights, int8 per-token activations
)");
  const ternary::QuantizeReport report = ternary::quantize_(*ternary_model, recipe);
  std::cout << report.to_string();
  // 8-bit optimizer state: 2.03 bytes per parameter instead of 8 (tensors under 4096 stay fp32).
  ternary::AdamW8bit optimizer(ternary_model->parameters(), ternary::AdamW8bitOptions(3e-3).weight_decay(0.0));
  const double ternary_accuracy = train(ternary_model, optimizer, x, y, 600);

  std::stringstream model_checkpoint, optimizer_checkpoint;
  torch::save(ternary_model, model_checkpoint);
  torch::save(optimizer, optimizer_checkpoint);
  auto restored = make_mlp();
  ternary::quantize_(*restored, recipe);
  torch::load(restored, model_checkpoint);
  ternary::AdamW8bit restored_optimizer(restored->parameters(), ternary::AdamW8bitOptions(3e-3).weight_decay(0.0));
  torch::load(restored_optimizer, optimizer_checkpoint);
  torch::NoGradGuard no_grad;
  const bool same = torch::equal(restored->forward(x), ternary_model->forward(x));

  int64_t parameters = 0;
  for (const auto& p : ternary_model->parameters()) parameters += p.numel();
  std::printf("train accuracy: float (AdamW) %.3f, ternary (AdamW8bit) %.3f; optimizer state %.2f bytes/param; "
              "save/load round trip %s\n",
              float_accuracy, ternary_accuracy, static_cast<double>(optimizer.state_bytes()) / parameters,
              same ? "identical" : "DIFFERS");
  return same && ternary_accuracy > 0.5 ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "quantize_model: %s\n", e.what());
  return 1;
}
