#include "runtime/llama_runtime.h"

#include <Eigen/Core>
#include <omp.h>
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/attention.h"
#include "kernels/gated_activation.h"
#include "kernels/fp16.h"

#if TERNARY_WITH_CUDA
#include "kernels/cuda/cuda_runtime_check.h"
#include "runtime/cuda_ternary_linear.h"
#endif

namespace ternary::runtime {
namespace {

using kernels::KernelTier;

// The largest shapes the runtime accepts from a file's metadata (8B-class models fit well inside).
constexpr int64_t kMaxDim = 1 << 16, kMaxLayers = 1 << 12, kMaxHeads = 1 << 12, kMaxFfn = 1 << 20;
constexpr int64_t kMaxContext = 1 << 24, kMaxVocab = 1 << 24;

const float* f32_tensor(const gguf::File& file, const std::string& name, uint64_t elements) {
  const gguf::TensorInfo& t = file.tensor(name);
  if (t.type != gguf::TensorType::kF32 || t.elements() != elements)
    throw std::runtime_error(file.path() + ": tensor '" + name + "' must be F32 with " + std::to_string(elements) +
                             " values, found " + gguf::to_string(t.type) + " with " + std::to_string(t.elements()));
  return reinterpret_cast<const float*>(t.data);
}

// token_embd: (dim, vocab) in a format a row can be read from.
const gguf::TensorInfo& embedding_tensor(const gguf::File& file, int64_t dim, int64_t vocab) {
  const gguf::TensorInfo& t = file.tensor(gguf::kTokenEmbedding);
  using gguf::TensorType;
  if (t.dims.size() != 2 || static_cast<int64_t>(t.dims[0]) != dim || static_cast<int64_t>(t.dims[1]) != vocab ||
      (t.type != TensorType::kF32 && t.type != TensorType::kF16 && t.type != TensorType::kQ8_0))
    throw std::runtime_error(file.path() + ": tensor '" + gguf::kTokenEmbedding + "' must be F32, F16 or Q8_0 of " +
                             std::to_string(dim) + " x " + std::to_string(vocab) + ", found " +
                             gguf::to_string(t.type));
  return t;
}

// Row `id` of the token embedding, as float.
void embedding_row(const gguf::TensorInfo& t, int64_t id, int64_t dim, float* out) {
  switch (t.type) {
    case gguf::TensorType::kF16: {
      const auto* row = reinterpret_cast<const uint16_t*>(t.data) + id * dim;
      for (int64_t i = 0; i < dim; ++i) out[i] = kernels::fp16_to_fp32(row[i]);
      return;
    }
    case gguf::TensorType::kQ8_0:
      kernels::dequantize_q8_0(reinterpret_cast<const kernels::BlockQ8_0*>(t.data) + id * (dim / kernels::kQ8Block),
                               dim, out);
      return;
    default: std::copy_n(reinterpret_cast<const float*>(t.data) + id * dim, dim, out);
  }
}

// As training's RMSNorm: x * rsqrt(mean(x^2) + eps) * weight, in float.
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(sum / static_cast<float>(n) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = weight[i] * (x[i] * inv);
}

// BitNet's SubLN: each of n rows of `width` normalized in place (`scratch`: n * width floats).
void rms_norm_rows(float* rows, int64_t n, int64_t width, const float* weight, float eps, float* scratch) {
  for (int64_t t = 0; t < n; ++t) {
    rms_norm(rows + t * width, weight, width, eps, scratch + t * width);
    std::copy_n(scratch + t * width, width, rows + t * width);
  }
}

// The activation scale floor training used: ternary.activation.scale_eps, or, in files exported
// before that key existed, the 1e-5 their ternary.activation.scale text states.
float activation_scale_eps(const gguf::File& f) {
  namespace key = gguf::key;
  if (f.has(key::kActivationScaleEps)) {
    const double eps = f.number(key::kActivationScaleEps);
    if (!(eps > 0 && eps < 1e30))
      throw std::runtime_error(f.path() + ": " + key::kActivationScaleEps + " must be a positive number, got " +
                               std::to_string(eps) + " (re-export with ternary-export)");
    return static_cast<float>(eps);
  }
  if (f.has(key::kActivationScale) && f.string(key::kActivationScale) == gguf::kLegacyActivationScale)
    return gguf::kLegacyActivationScaleEps;
  throw std::runtime_error(f.path() + ": no " + key::kActivationScaleEps +
                           ": the activation scale floor is unknown (re-export with ternary-export)");
}

void require_cuda() {
#if TERNARY_WITH_CUDA
  if (!cuda::device_available())
    throw std::runtime_error("--device cuda: " + cuda::device_description() + " on this machine; use --device cpu");
#else
  throw std::runtime_error("--device cuda: this build has no CUDA kernels; rebuild with -DTERNARY_ENABLE_CUDA=ON "
                           "(scripts/build_gpu.sh) or use --device cpu");
#endif
}

}  // namespace

Linear::Linear(const gguf::File& file, const std::string& name, int64_t in, int64_t out, float activation_eps,
               Device device)
    : in_(in), out_(out), activation_eps_(activation_eps) {
  const gguf::TensorInfo& t = file.tensor(name);
  if (t.dims.size() != 2 || static_cast<int64_t>(t.dims[0]) != in || static_cast<int64_t>(t.dims[1]) != out)
    throw std::runtime_error(file.path() + ": tensor '" + name + "' should be " + std::to_string(in) + " x " +
                             std::to_string(out));
  std::vector<float> scales;
  const std::string scale_key = gguf::scale_key(name);
  if (file.has(scale_key)) {
    const auto* values = std::get_if<std::vector<double>>(&file.value(scale_key).data);
    if (!values) throw std::runtime_error(file.path() + ": " + scale_key + " must be an array of float32 scales");
    for (double s : *values) scales.push_back(static_cast<float>(s));
    if (scales.size() != 1 && static_cast<int64_t>(scales.size()) != out)
      throw std::runtime_error(file.path() + ": " + scale_key + " has " + std::to_string(scales.size()) +
                               " values for " + std::to_string(out) + " rows");
  }
  switch (t.type) {
    case gguf::TensorType::kF32:
      dense_type_ = t.type;
      dense_ = t.data;
      break;
    case gguf::TensorType::kF16:
      dense_type_ = t.type;
      f16_ = std::make_unique<kernels::F16Matrix>(
          kernels::F16Matrix::from_rows(reinterpret_cast<const uint16_t*>(t.data), out, in));
      break;
    case gguf::TensorType::kQ8_0:
      dense_type_ = t.type;
      q8_0_ = std::make_unique<kernels::Q8_0Matrix>(
          kernels::Q8_0Matrix::from_blocks(reinterpret_cast<const kernels::BlockQ8_0*>(t.data), out, in));
      break;
    case gguf::TensorType::kTQ2_0:
      ternary_ = std::make_unique<kernels::TernaryMatrix>(kernels::TernaryMatrix::from_tq2_0(
          reinterpret_cast<const kernels::BlockTQ2_0*>(t.data), out, in, scales));
      break;
    case gguf::TensorType::kTQ1_0:
      ternary_ = std::make_unique<kernels::TernaryMatrix>(kernels::TernaryMatrix::from_tq1_0(
          reinterpret_cast<const kernels::BlockTQ1_0*>(t.data), out, in, scales));
      break;
    default:
      throw std::runtime_error(file.path() + ": tensor '" + name + "' is " + gguf::to_string(t.type) +
                               "; linears must be F32, F16, Q8_0, TQ1_0 or TQ2_0");
  }
#if TERNARY_WITH_CUDA
  if (ternary_ && device == Device::kCuda) cuda_ = std::make_shared<CudaTernaryLinear>(*ternary_, activation_eps_);
#else
  (void)device;  // LlamaRuntime refuses kCuda in builds without CUDA
#endif
}

Linear::Linear(std::unique_ptr<kernels::TernaryMatrix> matrix, float activation_eps)
    : in_(matrix->cols()), out_(matrix->rows()), activation_eps_(activation_eps), ternary_(std::move(matrix)) {}

std::unique_ptr<Linear> Linear::stack(const std::vector<const Linear*>& parts) {
  std::vector<const kernels::TernaryMatrix*> matrices;
  for (const Linear* p : parts) {
    if (!p->ternary_ || p->cuda_ || p->in_ != parts[0]->in_ || p->activation_eps_ != parts[0]->activation_eps_)
      return nullptr;
    matrices.push_back(p->ternary_.get());
  }
  return std::unique_ptr<Linear>(new Linear(
      std::make_unique<kernels::TernaryMatrix>(kernels::TernaryMatrix::stack_rows(matrices)), parts[0]->activation_eps_));
}

LinearGroup::LinearGroup(std::vector<std::unique_ptr<Linear>> parts) {
  std::vector<const Linear*> views;
  for (const auto& p : parts) {
    views.push_back(p.get());
    outs_.push_back(p->out());
  }
  fused_ = Linear::stack(views);
  if (!fused_) parts_ = std::move(parts);  // else the parts' matrices are freed: the stack holds them
}

void LinearGroup::forward(LinearInput& x, std::initializer_list<float*> outputs, KernelTier tier) {
  if (!fused_) {
    for (size_t i = 0; i < parts_.size(); ++i) parts_[i]->forward(x, outputs.begin()[i], tier);
    return;
  }
  const int64_t batch = x.batch(), total = fused_->out();
  if (static_cast<int64_t>(stacked_.size()) < batch * total) stacked_.resize(static_cast<size_t>(batch * total));
  fused_->forward(x, stacked_.data(), tier);
  for (int64_t t = 0; t < batch; ++t) {
    const float* row = stacked_.data() + t * total;
    for (size_t i = 0; i < outs_.size(); ++i) {
      std::copy_n(row, outs_[i], outputs.begin()[i] + t * outs_[i]);
      row += outs_[i];
    }
  }
}

int64_t LinearGroup::weight_bytes() const {
  if (fused_) return fused_->weight_bytes();
  int64_t bytes = 0;
  for (const auto& p : parts_) bytes += p->weight_bytes();
  return bytes;
}

int64_t Linear::weight_bytes() const {
  if (ternary_) return ternary_->bytes();
  return static_cast<int64_t>(gguf::tensor_bytes(dense_type_, static_cast<uint64_t>(in_ * out_)));
}

void LinearInput::set(const float* x, int64_t batch, int64_t cols) {
  x_ = x, batch_ = batch, cols_ = cols;
  int8_ready_ = q8_0_ready_ = false;
}

const kernels::QuantizedActivations* LinearInput::int8(float eps) {
  if (!int8_ready_ || int8_eps_ != eps) {
    if (static_cast<int64_t>(int8_.size()) < batch_) int8_.resize(static_cast<size_t>(batch_));
    for (int64_t t = 0; t < batch_; ++t) kernels::quantize_activations(x_ + t * cols_, cols_, eps, int8_[static_cast<size_t>(t)]);
    int8_ready_ = true, int8_eps_ = eps;
  }
  return int8_.data();
}

const kernels::Q8Activations* LinearInput::q8_0() {
  if (!q8_0_ready_) {
    if (static_cast<int64_t>(q8_0_.size()) < batch_) q8_0_.resize(static_cast<size_t>(batch_));
    for (int64_t t = 0; t < batch_; ++t) kernels::q8_0_activations(x_ + t * cols_, cols_, q8_0_[static_cast<size_t>(t)]);
    q8_0_ready_ = true;
  }
  return q8_0_.data();
}

void Linear::forward(LinearInput& x, float* y, KernelTier tier) const {
  const int64_t batch = x.batch();
#if TERNARY_WITH_CUDA
  if (cuda_) {
    cuda_->forward(x.x(), batch, y);
    return;
  }
#endif
  if (ternary_) {
    kernels::ternary_gemm(*ternary_, x.int8(activation_eps_), batch, y, tier);
  } else if (dense_type_ == gguf::TensorType::kF16) {
    kernels::f16_gemm(*f16_, x.x(), batch, y);
  } else if (dense_type_ == gguf::TensorType::kQ8_0) {
    kernels::q8_0_gemm(*q8_0_, x.q8_0(), batch, y);
  } else {
    using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Eigen::Map<const RowMajor> w(static_cast<const float*>(dense_), out_, in_);
    Eigen::Map<RowMajor>(y, batch, out_).noalias() = Eigen::Map<const RowMajor>(x.x(), batch, in_) * w.transpose();
  }
}

LlamaRuntime::LlamaRuntime(const std::string& gguf_path, Device device)
    : file_(std::make_unique<gguf::File>(gguf_path)), tier_(kernels::selected_tier()), device_(device) {
  if (device == Device::kCuda) require_cuda();
  const gguf::File& f = *file_;
  namespace key = gguf::key;
  shape_.architecture = f.string(key::kArchitecture);
  if (shape_.architecture != gguf::kLlamaArchitecture && shape_.architecture != gguf::kBitNetArchitecture)
    throw std::runtime_error(f.path() + ": architecture '" + shape_.architecture + "' is not supported (" +
                             gguf::kLlamaArchitecture + ", " + gguf::kBitNetArchitecture + ")");
  if (!f.has(key::kProducer) || !f.has(key::kRotaryLayout))
    throw std::runtime_error(f.path() + ": not written by ternary-export (no ternary.* keys); its training semantics "
                                        "are unknown");
  auto arch = [&](const char* suffix) { return gguf::architecture_key(shape_.architecture, suffix); };
  shape_.dim = f.integer(arch(key::kEmbeddingLength));
  shape_.n_layers = f.integer(arch(key::kBlockCount));
  shape_.n_heads = f.integer(arch(key::kHeadCount));
  shape_.n_kv_heads = f.integer(arch(key::kHeadCountKv));
  shape_.ffn_dim = f.integer(arch(key::kFeedForwardLength));
  shape_.context_length = f.integer(arch(key::kContextLength));
  shape_.vocab_size = f.integer(arch(key::kVocabSize));
  shape_.rope_theta = static_cast<float>(f.number(arch(key::kRopeFreqBase)));
  shape_.norm_eps = static_cast<float>(f.number(arch(key::kRmsNormEpsilon)));
  shape_.activation_eps = activation_scale_eps(f);
  // Caps on what the metadata may ask for, before anything is sized from it (docs/reliability.md).
  const std::pair<const char*, std::pair<int64_t, int64_t>> caps[] = {
      {key::kEmbeddingLength, {shape_.dim, kMaxDim}},        {key::kBlockCount, {shape_.n_layers, kMaxLayers}},
      {key::kHeadCount, {shape_.n_heads, kMaxHeads}},        {key::kHeadCountKv, {shape_.n_kv_heads, kMaxHeads}},
      {key::kFeedForwardLength, {shape_.ffn_dim, kMaxFfn}}, {key::kContextLength, {shape_.context_length, kMaxContext}},
      {key::kVocabSize, {shape_.vocab_size, kMaxVocab}}};
  for (const auto& [suffix, value_cap] : caps)
    if (value_cap.first <= 0 || value_cap.first > value_cap.second)
      throw std::runtime_error(f.path() + ": " + arch(suffix) + " is " + std::to_string(value_cap.first) +
                               ", outside 1.." + std::to_string(value_cap.second) + " (corrupt metadata?)");
  if (!(std::isfinite(shape_.rope_theta) && shape_.rope_theta > 0) || !(std::isfinite(shape_.norm_eps) && shape_.norm_eps > 0))
    throw std::runtime_error(f.path() + ": " + arch(key::kRopeFreqBase) + " and " + arch(key::kRmsNormEpsilon) +
                             " must be positive numbers");
  if (shape_.dim <= 0 || shape_.n_heads <= 0 || shape_.dim % shape_.n_heads || shape_.n_kv_heads <= 0 ||
      shape_.n_heads % shape_.n_kv_heads || shape_.head_dim() % 2 || shape_.n_layers <= 0 || shape_.context_length <= 0)
    throw std::runtime_error(f.path() + ": inconsistent model shape in the metadata");

  const int64_t dim = shape_.dim, kv_dim = shape_.n_kv_heads * shape_.head_dim();
  const float eps = shape_.activation_eps;
  token_embedding_ = &embedding_tensor(f, dim, shape_.vocab_size);
  output_norm_ = f32_tensor(f, gguf::kOutputNorm, static_cast<uint64_t>(dim));
  // Without an output matrix the logits come from the (tied) token embedding.
  output_ = std::make_unique<Linear>(f, f.find_tensor(gguf::kOutput) ? gguf::kOutput : gguf::kTokenEmbedding, dim,
                                     shape_.vocab_size, eps, device);
  using gguf::LayerTensor;
  for (int64_t i = 0; i < shape_.n_layers; ++i) {
    auto name = [&](LayerTensor kind) { return gguf::tensor_name(i, kind); };
    Layer l;
    l.attn_norm = f32_tensor(f, name(LayerTensor::kAttnNorm), static_cast<uint64_t>(dim));
    l.ffn_norm = f32_tensor(f, name(LayerTensor::kFfnNorm), static_cast<uint64_t>(dim));
    if (shape_.bitnet()) {
      l.attn_sub_norm = f32_tensor(f, name(LayerTensor::kAttnSubNorm), static_cast<uint64_t>(dim));
      l.ffn_sub_norm = f32_tensor(f, name(LayerTensor::kFfnSubNorm), static_cast<uint64_t>(shape_.ffn_dim));
    }
    auto linear = [&](LayerTensor kind, int64_t in, int64_t out) {
      return std::make_unique<Linear>(f, name(kind), in, out, eps, device);
    };
    std::vector<std::unique_ptr<Linear>> qkv, gate_up;
    qkv.push_back(linear(LayerTensor::kAttnQ, dim, dim));
    qkv.push_back(linear(LayerTensor::kAttnK, dim, kv_dim));
    qkv.push_back(linear(LayerTensor::kAttnV, dim, kv_dim));
    gate_up.push_back(linear(LayerTensor::kFfnGate, dim, shape_.ffn_dim));
    gate_up.push_back(linear(LayerTensor::kFfnUp, dim, shape_.ffn_dim));
    l.qkv = std::make_unique<LinearGroup>(std::move(qkv));
    l.o = linear(LayerTensor::kAttnOutput, dim, dim);
    l.gate_up = std::make_unique<LinearGroup>(std::move(gate_up));
    l.down = linear(LayerTensor::kFfnDown, shape_.ffn_dim, dim);
    layers_.push_back(std::move(l));
  }
  // As training: inv_freq = 1 / theta^(2i / d) in float.
  const int64_t hd = shape_.head_dim();
  for (int64_t i = 0; i < hd / 2; ++i)
    inv_freq_.push_back(1.0f / std::pow(shape_.rope_theta, static_cast<float>(2 * i) / static_cast<float>(hd)));
  k_cache_.resize(static_cast<size_t>(shape_.n_layers));
  v_cache_.resize(static_cast<size_t>(shape_.n_layers));
}

void LlamaRuntime::reserve_positions(int64_t positions) {
  if (positions <= cache_positions_) return;
  // Grown on demand (doubling, capped at the context): a run pays for the positions it uses, not
  // for whatever context_length the file declares.
  const int64_t grown = std::min(shape_.context_length, std::max(positions, 2 * cache_positions_));
  const size_t floats = static_cast<size_t>(grown * shape_.n_kv_heads * shape_.head_dim());
  for (size_t l = 0; l < k_cache_.size(); ++l) {
    k_cache_[l].resize(floats);
    v_cache_[l].resize(floats);
  }
  cache_positions_ = grown;
}

int64_t LlamaRuntime::weight_bytes() const {
  int64_t bytes = output_->weight_bytes();
  for (const Layer& l : layers_)
    bytes += l.qkv->weight_bytes() + l.o->weight_bytes() + l.gate_up->weight_bytes() + l.down->weight_bytes();
  return bytes;
}

void LlamaRuntime::reserve_tokens(int64_t n) {
  if (n <= state_.tokens) return;
  const int64_t dim = shape_.dim, kv_dim = shape_.n_kv_heads * shape_.head_dim(), ffn = shape_.ffn_dim;
  for (auto* v : {&state_.x, &state_.h, &state_.q, &state_.attn, &state_.proj}) v->resize(static_cast<size_t>(n * dim));
  for (auto* v : {&state_.k, &state_.v}) v->resize(static_cast<size_t>(n * kv_dim));
  for (auto* v : {&state_.gate, &state_.up}) v->resize(static_cast<size_t>(n * ffn));
  state_.tokens = n;
}

std::vector<float> LlamaRuntime::forward(const std::vector<int32_t>& tokens, bool all_logits) {
  const int64_t n = static_cast<int64_t>(tokens.size()), ctx = shape_.context_length;
  if (n == 0) throw std::invalid_argument("forward: no tokens");
  if (position_ + n > ctx)
    throw std::runtime_error("the context is full: " + std::to_string(position_ + n) + " positions exceed the model's " +
                             std::to_string(ctx) + " (context_length)");
  for (int32_t t : tokens)
    if (t < 0 || t >= shape_.vocab_size) throw std::invalid_argument("token id " + std::to_string(t) + " is outside the vocabulary");
  reserve_positions(position_ + n);
  reserve_tokens(n);
  embed(tokens);
  for (int64_t li = 0; li < shape_.n_layers; ++li) {
    const Layer& layer = layers_[static_cast<size_t>(li)];
    attention(layer, li, n);
    feed_forward(layer, n);
  }
  position_ += n;
  return output_logits(n, all_logits);
}

void LlamaRuntime::embed(const std::vector<int32_t>& tokens) {
  for (size_t t = 0; t < tokens.size(); ++t)
    embedding_row(*token_embedding_, tokens[t], shape_.dim, state_.x.data() + static_cast<int64_t>(t) * shape_.dim);
}

void LlamaRuntime::rotate(float* vec, int64_t heads) const {
  const int64_t hd = shape_.head_dim();
  for (int64_t head = 0; head < heads; ++head)
    for (int64_t i = 0; i < hd / 2; ++i) {
      const float c = state_.rotation[static_cast<size_t>(2 * i)], s = state_.rotation[static_cast<size_t>(2 * i + 1)];
      float* p = vec + head * hd + 2 * i;
      const float a = p[0], b = p[1];
      p[0] = a * c + (-b) * s;
      p[1] = b * c + a * s;
    }
}

// Query head `head` of token `t` (position position_ + t) over the cached positions 0..that one,
// into state_.attn. `scores` holds one value per position.
void LlamaRuntime::attend(int64_t layer_index, int64_t t, int64_t head, float* scores) {
  const int64_t dim = shape_.dim, hd = shape_.head_dim(), kv_dim = shape_.n_kv_heads * hd;
  const int64_t kv_head = head / (shape_.n_heads / shape_.n_kv_heads);
  kernels::attend_head(state_.q.data() + t * dim + head * hd,
                       k_cache_[static_cast<size_t>(layer_index)].data() + kv_head * hd,
                       v_cache_[static_cast<size_t>(layer_index)].data() + kv_head * hd, kv_dim,
                       position_ + t + 1, hd, scores, state_.attn.data() + t * dim + head * hd);
}

void LlamaRuntime::attention(const Layer& L, int64_t li, int64_t n) {
  const int64_t dim = shape_.dim, hd = shape_.head_dim(), H = shape_.n_heads, KV = shape_.n_kv_heads, kv_dim = KV * hd;
  set_normed_input(L.attn_norm, 0, n);  // quantized once for q, k and v
  L.qkv->forward(state_.input, {state_.q.data(), state_.k.data(), state_.v.data()}, tier_);
  float* kc = k_cache_[static_cast<size_t>(li)].data();
  float* vc = v_cache_[static_cast<size_t>(li)].data();
  state_.rotation.resize(static_cast<size_t>(hd));
  for (int64_t t = 0; t < n; ++t) {
    const int64_t pos = position_ + t;
    for (int64_t i = 0; i < hd / 2; ++i) {  // one cos/sin per pair, shared by every q and k head
      const float angle = static_cast<float>(pos) * inv_freq_[static_cast<size_t>(i)];
      state_.rotation[static_cast<size_t>(2 * i)] = std::cos(angle);
      state_.rotation[static_cast<size_t>(2 * i + 1)] = std::sin(angle);
    }
    rotate(state_.q.data() + t * dim, H);
    rotate(state_.k.data() + t * kv_dim, KV);
    std::copy_n(state_.k.data() + t * kv_dim, kv_dim, kc + pos * kv_dim);
    std::copy_n(state_.v.data() + t * kv_dim, kv_dim, vc + pos * kv_dim);
  }
  // Every (token, head) pair is independent: spread them over the threads, each with its own
  // score row. The arithmetic per pair is the same whatever the thread count.
  const int64_t positions = cache_positions_;
  const int threads = omp_get_max_threads();
  if (static_cast<int64_t>(state_.scores.size()) < threads * positions)
    state_.scores.resize(static_cast<size_t>(threads * positions));
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t pair = 0; pair < n * H; ++pair)
    attend(li, pair / H, pair % H, state_.scores.data() + omp_get_thread_num() * positions);
  float* attn = state_.attn.data();
  if (L.attn_sub_norm) rms_norm_rows(attn, n, dim, L.attn_sub_norm, shape_.norm_eps, state_.h.data());
  project_into_residual(*L.o, attn, n, dim);
}

// x += linear(rows): the residual add after attention's output and the FFN's down projection.
void LlamaRuntime::project_into_residual(const Linear& linear, const float* rows, int64_t n, int64_t width) {
  state_.input.set(rows, n, width);
  linear.forward(state_.input, state_.proj.data(), tier_);
  float* x = state_.x.data();
  for (int64_t i = 0; i < n * shape_.dim; ++i) x[i] += state_.proj[static_cast<size_t>(i)];
}

// state_.input = RMSNorm(x) of rows [first, first + n), in state_.h.
void LlamaRuntime::set_normed_input(const float* weight, int64_t first, int64_t n) {
  const int64_t dim = shape_.dim;
  for (int64_t t = 0; t < n; ++t)
    rms_norm(state_.x.data() + (first + t) * dim, weight, dim, shape_.norm_eps, state_.h.data() + t * dim);
  state_.input.set(state_.h.data(), n, dim);
}

void LlamaRuntime::feed_forward(const Layer& L, int64_t n) {
  const int64_t ffn = shape_.ffn_dim;
  float* gate = state_.gate.data();
  float* up = state_.up.data();
  set_normed_input(L.ffn_norm, 0, n);  // quantized once for gate and up
  L.gate_up->forward(state_.input, {gate, up}, tier_);
  if (shape_.bitnet())
    kernels::relu_squared_glu(gate, up, n * ffn);
  else
    kernels::swiglu(gate, up, n * ffn);
  if (L.ffn_sub_norm) rms_norm_rows(gate, n, ffn, L.ffn_sub_norm, shape_.norm_eps, up);
  project_into_residual(*L.down, gate, n, ffn);
}

std::vector<float> LlamaRuntime::output_logits(int64_t n, bool all_logits) {
  const int64_t first = all_logits ? 0 : n - 1, rows = n - first;
  set_normed_input(output_norm_, first, rows);
  std::vector<float> logits(static_cast<size_t>(rows * shape_.vocab_size));
  output_->forward(state_.input, logits.data(), tier_);
  return logits;
}

}  // namespace ternary::runtime
