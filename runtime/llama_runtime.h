// The LibTorch-free inference model: a GGUF file written by ternary-export, loaded by mmap
// (ternary, Q8_0 and F16 matrices repacked once into the kernels' layouts, so the process holds
// them besides the mapping's pages; F32 is read in place), run with a KV cache. It computes what
// the training model's fake-quantized forward computes: per-token int8 absmax activations into
// ternary linears with integer accumulation then both scales, F32 for full-precision tensors,
// RMSNorm, interleaved-pair rotary embeddings (the exported Q/K rows are permuted to match),
// causal grouped-query attention, SwiGLU (or BitNet's SubLN + ReLU^2).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "common/device.h"
#include "kernels/dense_gemm.h"
#include "kernels/ternary_gemv.h"
#include "runtime/gguf_file.h"

namespace ternary::runtime {

struct ModelShape {
  std::string architecture;  // gguf::kLlamaArchitecture | gguf::kBitNetArchitecture
  int64_t vocab_size = 0, dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, ffn_dim = 0, context_length = 0;
  float rope_theta = 10000.0f, norm_eps = 1e-5f;
  float activation_eps = 1e-5f;  // the int8 activation scale floor (ternary.activation.scale_eps)
  bool bitnet() const { return architecture == gguf::kBitNetArchitecture; }
  int64_t head_dim() const { return dim / n_heads; }
};

// Where the ternary linears run (common/device.h). kCuda (builds with TERNARY_ENABLE_CUDA) puts
// their weights on the GPU; attention, norms and F32 tensors stay on the CPU (see docs/cuda.md).
using ternary::Device;

class CudaTernaryLinear;  // runtime/cuda_ternary_linear.h, in CUDA builds only

// The input of one or more linears: `batch` rows of `cols` floats, quantized at most once per
// format however many linears read it (q, k and v share the normed input; gate and up too). The
// buffers are kept, so a decode step allocates nothing.
class LinearInput {
 public:
  void set(const float* x, int64_t batch, int64_t cols);  // new values: earlier quantizations are stale
  const float* x() const { return x_; }
  int64_t batch() const { return batch_; }
  int64_t cols() const { return cols_; }
  const kernels::QuantizedActivations* int8(float eps);  // per-token int8 absmax, for ternary linears
  const kernels::Q8Activations* q8_0();                 // per-32-value Q8_0, for Q8_0 linears

 private:
  const float* x_ = nullptr;
  int64_t batch_ = 0, cols_ = 0;
  std::vector<kernels::QuantizedActivations> int8_;
  std::vector<kernels::Q8Activations> q8_0_;
  bool int8_ready_ = false, q8_0_ready_ = false;
  float int8_eps_ = 0;
};

// y = W x for a batch of tokens: ternary (int8 activations), F32, F16, or Q8_0 (activations
// quantized to Q8_0 per 32 values, as llama.cpp runs it).
class Linear {
 public:
  // activation_eps: the floor of the per-token int8 activation scale, as training used it.
  Linear(const gguf::File& file, const std::string& name, int64_t in, int64_t out, float activation_eps,
         Device device = Device::kCpu);
  void forward(LinearInput& x, float* y, kernels::KernelTier tier) const;  // (batch, in) -> (batch, out)
  bool ternary() const { return ternary_ != nullptr; }
  int64_t out() const { return out_; }
  int64_t weight_bytes() const;
  // One linear with the parts' output rows one after another, when every part is ternary on the
  // CPU with the same input width and activation floor; else nullptr.
  static std::unique_ptr<Linear> stack(const std::vector<const Linear*>& parts);

 private:
  Linear(std::unique_ptr<kernels::TernaryMatrix> matrix, float activation_eps);
  int64_t in_, out_;
  float activation_eps_;
  std::unique_ptr<kernels::TernaryMatrix> ternary_;
  std::unique_ptr<kernels::Q8_0Matrix> q8_0_;  // Q8_0 weights, repacked for the GEMV
  std::unique_ptr<kernels::F16Matrix> f16_;    // F16 weights, repacked for the GEMV
  std::shared_ptr<CudaTernaryLinear> cuda_;  // shared_ptr: destructible where the type is incomplete
  // F32: (out, in) row-major, in the mapping; set when no repacked matrix is.
  gguf::TensorType dense_type_ = gguf::TensorType::kF32;
  const void* dense_ = nullptr;
};

// Linears that read one input (q, k and v; gate and up), run as a single GEMV over their stacked
// rows when Linear::stack allows (one kernel start and one thread fork per group instead of one
// per linear, and the prefetch runs on across the parts), else one after another. Each part's
// output lands in its own buffer either way.
class LinearGroup {
 public:
  explicit LinearGroup(std::vector<std::unique_ptr<Linear>> parts);
  void forward(LinearInput& x, std::initializer_list<float*> outputs, kernels::KernelTier tier);  // allocates nothing once warm
  bool fused() const { return fused_ != nullptr; }
  int64_t weight_bytes() const;

 private:
  std::vector<std::unique_ptr<Linear>> parts_;  // when not fused
  std::vector<int64_t> outs_;
  std::unique_ptr<Linear> fused_;
  std::vector<float> stacked_;  // the fused output, (batch, sum of outs), kept across calls
};

class LlamaRuntime {
 public:
  // Throws std::runtime_error naming the file and the missing or malformed part, or why `device`
  // cannot be used (a build without CUDA, no GPU).
  explicit LlamaRuntime(const std::string& gguf_path, Device device = Device::kCpu);

  // Runs `tokens` at positions [position(), position() + n), appending to the KV cache. Returns
  // logits (n, vocab) when all_logits, else (1, vocab) of the last token. An error past context_length.
  std::vector<float> forward(const std::vector<int32_t>& tokens, bool all_logits = false);
  void reset() { position_ = 0; }
  int64_t position() const { return position_; }

  const ModelShape& shape() const { return shape_; }
  const gguf::File& file() const { return *file_; }
  kernels::KernelTier kernel_tier() const { return tier_; }
  Device device() const { return device_; }
  int64_t weight_bytes() const;  // bytes the linears stream per token

 private:
  struct Layer {
    const float *attn_norm, *ffn_norm, *attn_sub_norm = nullptr, *ffn_sub_norm = nullptr;
    std::unique_ptr<LinearGroup> qkv, gate_up;
    std::unique_ptr<Linear> o, down;
  };
  std::unique_ptr<gguf::File> file_;
  ModelShape shape_;
  kernels::KernelTier tier_;
  Device device_;
  const gguf::TensorInfo* token_embedding_;  // F32, F16 or Q8_0 (ternary-export --output-type)
  const float* output_norm_;
  std::unique_ptr<Linear> output_;  // the output matrix, or the token embedding when tied
  std::vector<Layer> layers_;
  std::vector<float> inv_freq_;              // (head_dim / 2)

  // The forward pass, step by step, over the `n` tokens in state_ at positions position_...
  void embed(const std::vector<int32_t>& tokens);
  void attention(const Layer& layer, int64_t layer_index, int64_t n);  // x += attention(norm(x))
  void attend(int64_t layer_index, int64_t t, int64_t head, float* scores);  // one query head
  void feed_forward(const Layer& layer, int64_t n);                    // x += ffn(norm(x))
  void project_into_residual(const Linear& linear, const float* rows, int64_t n, int64_t width);
  void set_normed_input(const float* weight, int64_t first, int64_t n);  // state_.input = norm(x rows)
  void rotate(float* vec, int64_t heads) const;  // rotary, interleaved pairs, by state_.rotation
  std::vector<float> output_logits(int64_t n, bool all_logits);

  // Activations for up to state_.tokens tokens, kept across calls (llama2.c's RunState): a decode
  // step allocates nothing once the first has run.
  struct RunState {
    int64_t tokens = 0;
    std::vector<float> x, h, q, k, v, attn, proj, gate, up;
    std::vector<float> scores;    // per thread: (threads, cache positions)
    std::vector<float> rotation;  // (cos, sin) of each rotary pair at the position being rotated
    LinearInput input;
  } state_;
  void reserve_tokens(int64_t n);
  void reserve_positions(int64_t positions);
  std::vector<std::vector<float>> k_cache_, v_cache_;  // per layer: (cache_positions_, kv_heads * head_dim)
  int64_t cache_positions_ = 0;                         // grown on demand up to context_length
  int64_t position_ = 0;
};

}  // namespace ternary::runtime
