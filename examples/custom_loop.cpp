// Example: your own model and your own training loop, with Ternary Engine's parts.
// A small next-byte language model (embedding + MLP over a 32-byte window) written as plain
// torch::nn, quantized to ternary with a YAML recipe by quantize_, trained by a hand-written loop
// with AdamW8bit (no weight decay on biases and quantizer scales, warm-up + cosine lr, gradient
// clipping) on the bundled corpus, checkpointed with torch::save and resumed with torch::load.
//   custom_loop [path/to/text.txt] [path/to/recipe.yaml]
#include <ternary/modules/quant_slot_names.h>
#include <ternary/modules/quantize.h>
#include <ternary/optim/adamw8bit.h>
#include <ternary/quantizers/recipe.h>
#include <ternary/train/token_dataset.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

namespace {

constexpr int64_t kWindow = 32, kEmbed = 24, kHidden = 384, kBatch = 64;

// The user's model: any torch::nn module tree; quantize_ finds the Linear layers inside.
struct NextByteModelImpl : torch::nn::Module {
  NextByteModelImpl() {
    embed = register_module("embed", torch::nn::Embedding(256, kEmbed));
    mlp = register_module("mlp", torch::nn::Sequential(torch::nn::Linear(kWindow * kEmbed, kHidden), torch::nn::ReLU(),
                                                       torch::nn::Linear(kHidden, kHidden), torch::nn::ReLU(),
                                                       torch::nn::Linear(kHidden, 256)));
  }
  torch::Tensor forward(const torch::Tensor& window) {  // (batch, kWindow) bytes -> (batch, 256) logits
    return mlp->forward(embed->forward(window).flatten(1));
  }
  torch::nn::Embedding embed{nullptr};
  torch::nn::Sequential mlp{nullptr};
};
TORCH_MODULE(NextByteModel);

// (window, next byte) pairs: the dataset's (inputs, targets) rows, keeping the last target.
std::pair<torch::Tensor, torch::Tensor> batch_of(const ternary::TokenDataset& data, at::Generator& generator) {
  auto [inputs, targets] = data.sample_train(kBatch, kWindow, generator);
  return {inputs, targets.select(1, kWindow - 1)};
}

double validation_loss(NextByteModel& model, const ternary::TokenDataset& data) {
  torch::NoGradGuard no_grad;
  double total = 0;
  const auto batches = data.val_batches(kBatch, kWindow, 20);
  for (const auto& [inputs, targets] : batches)
    total += torch::nn::functional::cross_entropy(model->forward(inputs), targets.select(1, kWindow - 1)).item<double>();
  return total / static_cast<double>(batches.size());
}

ternary::AdamW8bit make_optimizer(NextByteModel& model) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : model->named_parameters())
    (p.value().dim() >= 2 && !ternary::is_quantizer_state(p.key()) ? decay : no_decay).push_back(p.value());
  const auto options = ternary::AdamW8bitOptions(2e-3).betas({0.9, 0.99}).weight_decay(0.1);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<ternary::AdamW8bitOptions>(options));
  groups.emplace_back(no_decay, std::make_unique<ternary::AdamW8bitOptions>(ternary::AdamW8bitOptions(options).weight_decay(0)));
  return ternary::AdamW8bit(std::move(groups), options);
}

// Steps [from, to) of a `total`-step run; returns the last loss.
double train(NextByteModel& model, ternary::AdamW8bit& optimizer, const ternary::TokenDataset& data,
             at::Generator& generator, int from, int to, int total) {
  double loss_value = 0;
  for (int step = from; step < to; ++step) {
    const double lr = step < 50 ? 2e-3 * (step + 1) / 50 : 2e-4 + 0.9e-3 * (1 + std::cos(M_PI * (step - 50) / (total - 50)));
    for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
    auto [inputs, targets] = batch_of(data, generator);
    const auto loss = torch::nn::functional::cross_entropy(model->forward(inputs), targets);
    optimizer.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(model->parameters(), 1.0);
    optimizer.step();
    loss_value = loss.item<double>();
  }
  return loss_value;
}

}  // namespace

int main(int argc, char** argv) try {
  const std::string text = argc > 1 ? argv[1] : "data/tinyshakespeare.txt";
  const ternary::Recipe recipe = argc > 2 ? ternary::Recipe::from_yaml_file(argv[2]) : ternary::Recipe::from_yaml_string(R"(
rules:
  - match: ["embed", "mlp.4"]   # embedding and output head stay full precision
    preset: none
  - match: "*"
    preset: bitnet_b158          # ternary weights, int8 per-token activations
)");
  torch::set_num_threads(2);
  const std::string work = std::filesystem::temp_directory_path() / "ternary_custom_loop";
  std::filesystem::create_directories(work);
  const ternary::TokenDataset data =
      ternary::TokenDataset::prepare({{text}, work + "/tokens.bin", 0.1}, ternary::Tokenizer::bytes());

  torch::manual_seed(0);
  NextByteModel model;
  std::printf("%s", ternary::quantize_(*model, recipe).to_string().c_str());
  ternary::AdamW8bit optimizer = make_optimizer(model);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(42);
  constexpr int kSteps = 600;
  const double before = validation_loss(model, data);

  // First half, then a checkpoint (model, optimizer, data RNG) ...
  train(model, optimizer, data, generator, 0, kSteps / 2, kSteps);
  torch::save(model, work + "/model.pt");
  torch::save(optimizer, work + "/optimizer.pt");
  torch::save(generator.get_state(), work + "/rng.pt");
  // ... which a fresh process would load to continue: same model code, same recipe.
  NextByteModel resumed;
  ternary::quantize_(*resumed, recipe);
  torch::load(resumed, work + "/model.pt");
  ternary::AdamW8bit resumed_optimizer = make_optimizer(resumed);
  torch::load(resumed_optimizer, work + "/optimizer.pt");
  at::Generator resumed_generator = at::make_generator<at::CPUGeneratorImpl>(0);
  torch::Tensor rng_state;
  torch::load(rng_state, work + "/rng.pt");
  resumed_generator.set_state(rng_state);

  const double last_loss = train(model, optimizer, data, generator, kSteps / 2, kSteps, kSteps);
  const double resumed_last_loss = train(resumed, resumed_optimizer, data, resumed_generator, kSteps / 2, kSteps, kSteps);
  const double after = validation_loss(resumed, data);
  std::printf("val loss %.3f -> %.3f after %d steps (AdamW8bit, %.2f bytes of optimizer state per parameter); "
              "resumed run %s\n",
              before, after, kSteps, static_cast<double>(resumed_optimizer.state_bytes()) /
                                           static_cast<double>(torch::nn::utils::parameters_to_vector(resumed->parameters()).numel()),
              resumed_last_loss == last_loss ? "matches the uninterrupted one" : "DIFFERS");
  return after < before - 0.5 && resumed_last_loss == last_loss ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "custom_loop: %s\n", e.what());
  return 1;
}
