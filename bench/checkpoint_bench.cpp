// checkpoint: the peak memory a checkpoint save adds to a run, on a 135M-shaped model (dim 576,
// 30 layers, 9 heads, 3 kv heads, ffn 1536, vocab 49152, tied) with AdamW8bit state. Saving
// streams each archive to disk record by record (train/checkpoint.cpp); the baseline is what the
// save did before: every archive serialized into memory, then written. Peak RSS is the kernel's
// VmHWM, reset before each case (/proc/self/clear_refs).
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <torch/serialize/archive.h>

#include "bench/bench_cases.h"
#include "models/llama_model.h"
#include "train/checkpoint.h"
#include "train/make_optimizer.h"
#include "train/train_config.h"

namespace ternary::bench {
namespace {

int64_t status_bytes(const char* key) {  // a /proc/self/status field, in bytes
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(key, 0) == 0) return std::stoll(line.substr(std::strlen(key))) * 1024;
  return -1;
}

// Peak RSS above the current RSS while `save` runs.
template <typename Save>
int64_t added_peak(Save save) {
  std::ofstream("/proc/self/clear_refs") << "5";  // VmHWM := VmRSS
  const int64_t before = status_bytes("VmRSS:");
  save();
  return status_bytes("VmHWM:") - before;
}

}  // namespace

int run_checkpoint(const Options&) {
  const TrainConfig c = TrainConfig::from_file(
      std::string(TERNARY_SOURCE_DIR) + "/configs/llama_qat.yaml",
      {"model.dim=576", "model.n_layers=30", "model.n_heads=9", "model.n_kv_heads=3", "model.ffn_dim=1536",
       "model.vocab_size=49152", "model.tie_embeddings=true"});
  LlamaModel model(c.model, c.quantization.recipe());
  auto optimizer = make_optimizer(c.optimizer, model->parameters());
  for (auto& p : model->parameters()) p.mutable_grad() = at::full_like(p, 1e-3);
  optimizer->step();  // the 8-bit state exists
  for (auto& p : model->parameters()) p.mutable_grad() = at::Tensor();
  const std::string dir = (std::filesystem::temp_directory_path() / "ternary_bench_checkpoint").string();
  std::filesystem::remove_all(dir);
  const int64_t rss = status_bytes("VmRSS:");
  const int64_t streamed =
      added_peak([&] { write_checkpoint(dir + "/streamed", *model, optimizer.get(), TrainerState{}, c.to_yaml()); });
  const int64_t in_memory = added_peak([&] {
    std::map<std::string, std::string> files;
    auto bytes = [](auto& object) {
      torch::serialize::OutputArchive archive;
      object.save(archive);
      std::ostringstream out;
      archive.save_to(out);
      return out.str();
    };
    files["model.pt"] = bytes(*model);
    files["optimizer.pt"] = bytes(*optimizer);
    for (const auto& [name, data] : files) std::ofstream(dir + "/" + name, std::ios::binary) << data;
  });
  std::filesystem::remove_all(dir);
  std::printf("{\"bench\": \"checkpoint\", \"case\": \"save\", \"model\": \"135M shape, AdamW8bit\", \"params\": %lld, "
              "\"rss_bytes\": %lld, \"added_peak_bytes\": %lld, \"added_fraction\": %.4f, \"target_fraction\": 0.05, "
              "\"baseline\": \"archives serialized in memory, then written\", \"baseline_added_peak_bytes\": %lld, "
              "\"baseline_added_fraction\": %.4f}\n",
              (long long)c.model.parameter_count(), (long long)rss, (long long)streamed,
              static_cast<double>(streamed) / static_cast<double>(rss), (long long)in_memory,
              static_cast<double>(in_memory) / static_cast<double>(rss));
  std::fflush(stdout);
  return 0;
}

}  // namespace ternary::bench
