// The LibTorch paths on a CUDA device against the same code on the CPU: 8-bit optimizers on CUDA
// parameters (exact), QuantLinear forward/backward (float tolerance: the scale reductions run
// through different reductions), `device: cuda` training (a short run tracks the CPU run), and
// ternary-run --device cuda (logits identical to the CPU kernels). Built with
// TERNARY_ENABLE_CUDA; skips unless LibTorch sees a GPU (a CUDA build of LibTorch on a GPU machine).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <filesystem>

#include "export/gguf_export.h"
#include "modules/quant_linear.h"
#include "optim/adamw8bit.h"
#include "optim/lion8bit.h"
#include "runtime/llama_runtime.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace ternary {
namespace {

#define SKIP_WITHOUT_TORCH_GPU() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "LibTorch sees no CUDA device"

double relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  return ((actual.cpu() - expected).norm() / expected.norm().clamp_min(1e-30)).item<double>();
}

TrainConfig small_config(const std::string& dir, const std::string& device, int64_t steps) {
  const std::string yaml = R"(
model: {dim: 256, n_layers: 1, n_heads: 4, n_kv_heads: 2, ffn_dim: 512, max_seq_len: 64}
training: {batch_size: 4, seq_len: 32}
optimizer: {name: adamw8bit, lr: 3.0e-3, min_8bit_size: 1024}
schedule: {warmup_steps: 2}
eval: {every: 0, batches: 2, sample_tokens: 0}
checkpoint: {every: 0}
)";
  return TrainConfig::parse(yaml, "cuda.yaml",
                            {"output_dir=" + dir, "device=" + device, "training.steps=" + std::to_string(steps),
                             std::string("data.text_files=") + TERNARY_SOURCE_DIR + "/data/tinyshakespeare.txt",
                             "data.cache=" + ::testing::TempDir() + "/cuda_tokens.bin"});
}

}  // namespace

TEST(CudaOptimizers, AdamW8bitAndLion8bitOnCudaParametersEqualTheCpuSteps) {
  SKIP_WITHOUT_TORCH_GPU();
  at::manual_seed(0);
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    const at::Tensor start = at::randn({3000}).to(dtype);
    at::Tensor cpu = start.clone(), gpu = start.clone().cuda();
    AdamW8bit cpu_adam({cpu}, AdamW8bitOptions(1e-3).weight_decay(0.1).min_8bit_size(1024));
    AdamW8bit gpu_adam({gpu}, AdamW8bitOptions(1e-3).weight_decay(0.1).min_8bit_size(1024));
    at::Tensor cpu_small = at::randn({100}).to(dtype), gpu_small = cpu_small.clone().cuda();  // fp32 state
    Lion8bit cpu_lion({cpu_small}, Lion8bitOptions(1e-4).min_8bit_size(1024));
    Lion8bit gpu_lion({gpu_small}, Lion8bitOptions(1e-4).min_8bit_size(1024));
    for (int step = 0; step < 10; ++step) {
      const at::Tensor g = at::randn({3000}).to(dtype), g_small = at::randn({100}).to(dtype);
      cpu.mutable_grad() = g;
      gpu.mutable_grad() = g.cuda();
      cpu_small.mutable_grad() = g_small;
      gpu_small.mutable_grad() = g_small.cuda();
      cpu_adam.step();
      gpu_adam.step();
      cpu_lion.step();
      gpu_lion.step();
      ASSERT_TRUE(at::equal(cpu, gpu.cpu())) << "AdamW8bit step " << step << " dtype " << dtype;
      ASSERT_TRUE(at::equal(cpu_small, gpu_small.cpu())) << "Lion8bit step " << step << " dtype " << dtype;
    }
  }
}

TEST(CudaQuantLinear, ForwardAndBackwardMatchTheCpu) {
  SKIP_WITHOUT_TORCH_GPU();
  at::manual_seed(1);
  QuantLinear cpu_layer(QuantLinearOptions(512, 256).bias(false));
  QuantLinear gpu_layer(QuantLinearOptions(512, 256).bias(false));
  {
    at::NoGradGuard no_grad;
    gpu_layer->weight.copy_(cpu_layer->weight);
  }
  gpu_layer->to(at::kCUDA);
  const at::Tensor x = at::randn({4, 16, 512});
  const at::Tensor x_gpu = x.cuda().requires_grad_(true), x_cpu = x.clone().requires_grad_(true);
  const at::Tensor y_cpu = cpu_layer->forward(x_cpu), y_gpu = gpu_layer->forward(x_gpu);
  EXPECT_LT(relative_error(y_gpu, y_cpu), 1e-3);
  y_cpu.square().sum().backward();
  y_gpu.square().sum().backward();
  EXPECT_LT(relative_error(x_gpu.grad(), x_cpu.grad()), 1e-3);
  EXPECT_LT(relative_error(gpu_layer->weight.grad(), cpu_layer->weight.grad()), 1e-3);
}

TEST(CudaTraining, AShortRunTracksTheCpuRunAndItsCheckpointLoadsOnTheCpu) {
  SKIP_WITHOUT_TORCH_GPU();
  const std::string root = ::testing::TempDir() + "/cuda_training";
  std::filesystem::remove_all(root);
  std::vector<double> losses[2];
  std::string gpu_checkpoint;
  for (int run = 0; run < 2; ++run) {
    Trainer trainer(small_config(root + (run ? "/gpu" : "/cpu"), run ? "cuda" : "cpu", 10), "", nullptr);
    for (int step = 0; step < 10; ++step) losses[run].push_back(trainer.train_step().loss);
    if (run) gpu_checkpoint = trainer.run().checkpoint;  // steps are done: writes the final checkpoint
  }
  for (size_t i = 0; i < losses[0].size(); ++i)
    EXPECT_NEAR(losses[1][i], losses[0][i], 0.02 * losses[0][i]) << "step " << i + 1;
  // Written from CUDA tensors, read on the CPU (export runs on machines without a GPU).
  Trainer cpu_reader(small_config(root + "/reader", "cpu", 10), "", nullptr);
  EXPECT_NO_THROW(Checkpoint::open(gpu_checkpoint).load_model(*cpu_reader.model(), true));
}

TEST(CudaRuntime, TernaryRunOnTheGpuGivesTheCpuLogits) {
  SKIP_WITHOUT_TORCH_GPU();
  const std::string root = ::testing::TempDir() + "/cuda_runtime";
  std::filesystem::remove_all(root);
  Trainer trainer(small_config(root, "cpu", 3), "", nullptr);
  const std::string gguf = root + "/model.gguf";
  export_gguf(trainer.run().checkpoint, gguf, {});
  runtime::LlamaRuntime cpu(gguf, runtime::Device::kCpu), gpu(gguf, runtime::Device::kCuda);
  const std::vector<int32_t> prompt = {10, 72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100};
  const std::vector<float> a = cpu.forward(prompt, true), b = gpu.forward(prompt, true);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << "logit " << i;
  for (int t = 0; t < 16; ++t) {  // decode steps: batch 1 GEMV
    const int32_t token = prompt[static_cast<size_t>(t % 12)];
    const std::vector<float> c = cpu.forward({token}), g = gpu.forward({token});
    ASSERT_EQ(c, g) << "decode step " << t;
  }
}

}  // namespace ternary
