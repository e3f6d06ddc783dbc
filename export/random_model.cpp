#include "export/random_model.h"

#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "common/tokenizer.h"
#include "export/gguf_writer.h"
#include "export/model_file.h"
#include "kernels/ternary_blocks.h"
#include "quantizers/quantizer_spec.h"

namespace ternary {
namespace {

using gguf::LayerTensor;

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Each tensor row draws from its own stream (seed, tensor, row), so rows fill in parallel and the
// file does not depend on the thread count.
uint64_t stream_seed(uint64_t seed, uint64_t tensor, uint64_t row) {
  uint64_t state = seed ^ (tensor << 40) ^ row;
  return splitmix64(state);
}

std::vector<int8_t> random_trits(uint64_t seed, uint64_t tensor, int64_t out, int64_t in) {
  std::vector<int8_t> trits(static_cast<size_t>(out * in));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < out; ++r) {
    uint64_t state = stream_seed(seed, tensor, static_cast<uint64_t>(r));
    int64_t k = 0;
    while (k < in) {
      uint64_t bits = splitmix64(state);
      for (int b = 0; b < 8 && k < in; ++b, bits >>= 8)
        if ((bits & 0xFF) < 255) trits[static_cast<size_t>(r * in + k++)] = static_cast<int8_t>((bits & 0xFF) % 3) - 1;
    }
  }
  return trits;
}

std::vector<float> random_normal(uint64_t seed, uint64_t tensor, int64_t out, int64_t in, float stddev) {
  std::vector<float> values(static_cast<size_t>(out * in));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < out; ++r) {
    uint64_t state = stream_seed(seed, tensor, static_cast<uint64_t>(r));
    for (int64_t k = 0; k < in; k += 2) {  // Box-Muller: two normals from two uniforms in (0, 1]
      const double u1 = (static_cast<double>(splitmix64(state) >> 11) + 1) * 0x1.0p-53;
      const double u2 = static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;
      const double radius = std::sqrt(-2 * std::log(u1)) * stddev;
      values[static_cast<size_t>(r * in + k)] = static_cast<float>(radius * std::cos(2 * M_PI * u2));
      if (k + 1 < in) values[static_cast<size_t>(r * in + k + 1)] = static_cast<float>(radius * std::sin(2 * M_PI * u2));
    }
  }
  return values;
}

}  // namespace

ExportSummary write_random_model(const TrainConfig& config, const std::string& out_path, const ExportOptions& options,
                                 uint64_t seed) {
  LlamaConfig m = config.model;
  if (m.dim % kernels::kTernaryBlock != 0 || m.ffn_dim % kernels::kTernaryBlock != 0)
    throw std::runtime_error("model.dim " + std::to_string(m.dim) + " and model.ffn_dim " + std::to_string(m.ffn_dim) +
                             " must be multiples of 256, the GGUF ternary block");
  const Tokenizer tokenizer = Tokenizer::from_file(config.data.tokenizer, config.data.tokenizer_model);
  if (m.vocab_size == 0) m.vocab_size = tokenizer.vocab_size();  // vocab_size: auto, as the trainer resolves it
  gguf::Writer w;
  ExportSummary summary;
  model_file::set_model_keys(w, m, options.name.empty() ? "random" : options.name, options.ternary_type);
  model_file::set_tokenizer(w, tokenizer, m.vocab_size);
  uint64_t tensor = 0;
  auto matrix = [&](const std::string& name, int64_t out, int64_t in, float stddev) {
    const std::vector<float> values = random_normal(seed, tensor++, out, in, stddev);
    model_file::add_matrix(w, name, values.data(), out, in, options.output_type);
    ++summary.matrix_tensors;
  };
  auto ternary = [&](const std::string& name, int64_t out, int64_t in) {
    const std::vector<int8_t> trits = random_trits(seed, tensor++, out, in);
    model_file::add_ternary(w, name, trits.data(), out, in, {std::sqrt(1.5f / static_cast<float>(in))},
                            options.ternary_type);
    ++summary.ternary_tensors;
  };
  auto ones = [&](const std::string& name, int64_t n) {
    const std::vector<float> values(static_cast<size_t>(n), 1.0f);
    const auto* bytes = reinterpret_cast<const uint8_t*>(values.data());
    w.add_tensor(name, {static_cast<uint64_t>(n)}, gguf::TensorType::kF32, {bytes, bytes + 4 * n});
    ++summary.float_tensors;
  };
  const int64_t dim = m.dim, kv_dim = m.n_kv_heads * m.head_dim(), ffn = m.ffn_dim;
  const bool bitnet = m.variant == LlamaVariant::kBitNet;
  matrix(gguf::kTokenEmbedding, m.vocab_size, dim, 1.0f);
  for (int64_t i = 0; i < m.n_layers; ++i) {
    auto name = [&](LayerTensor kind) { return gguf::tensor_name(i, kind); };
    ones(name(LayerTensor::kAttnNorm), dim);
    ternary(name(LayerTensor::kAttnQ), dim, dim);
    ternary(name(LayerTensor::kAttnK), kv_dim, dim);
    ternary(name(LayerTensor::kAttnV), kv_dim, dim);
    if (bitnet) ones(name(LayerTensor::kAttnSubNorm), dim);
    ternary(name(LayerTensor::kAttnOutput), dim, dim);
    ones(name(LayerTensor::kFfnNorm), dim);
    ternary(name(LayerTensor::kFfnGate), ffn, dim);
    ternary(name(LayerTensor::kFfnUp), ffn, dim);
    if (bitnet) ones(name(LayerTensor::kFfnSubNorm), ffn);
    ternary(name(LayerTensor::kFfnDown), dim, ffn);
  }
  ones(gguf::kOutputNorm, dim);
  if (!m.tie_embeddings) matrix(gguf::kOutput, m.vocab_size, dim, 1.0f / std::sqrt(static_cast<float>(dim)));
  model_file::set_quantization_keys(w, static_cast<float>(ScaleSpec{}.eps), "tensor", "random");
  w.write(out_path);
  summary.file_bytes = static_cast<int64_t>(std::filesystem::file_size(out_path));
  return summary;
}

}  // namespace ternary
