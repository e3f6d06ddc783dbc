#include "export/gguf_export.h"

#include <ATen/ATen.h>

#include <cstring>
#include <filesystem>
#include <optional>

#include "common/tokenizer.h"
#include "export/gguf_writer.h"
#include "export/model_file.h"
#include "kernels/ternary_blocks.h"
#include "models/llama_model.h"
#include "train/checkpoint.h"
#include "train/train_config.h"

namespace ternary {
namespace {
namespace fs = std::filesystem;
using gguf::LayerTensor;
using gguf::TensorType;
using gguf::Value;
namespace key = gguf::key;

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

std::vector<uint8_t> float_bytes(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kFloat).contiguous();
  std::vector<uint8_t> bytes(static_cast<size_t>(c.numel()) * 4);
  std::memcpy(bytes.data(), c.data_ptr<float>(), bytes.size());
  return bytes;
}

// A diverged checkpoint must not become a model file that prints NaN.
void require_finite(const at::Tensor& t, const std::string& name) {
  if (!at::isfinite(t.detach()).all().item<bool>())
    fail("tensor " + name + " has non-finite values (NaN or Inf): the checkpoint comes from a diverged run; export "
         "an earlier checkpoint");
}

// HF's rotate-half Q/K rows -> llama.cpp's interleaved pairs (what convert_hf_to_gguf.py does):
// within each head, row i of the first half and row i of the second half become rows 2i, 2i+1.
at::Tensor interleave_rotary_rows(const at::Tensor& w, int64_t heads) {
  const int64_t out = w.size(0), in = w.size(1);
  return w.reshape({heads, 2, out / heads / 2, in}).transpose(1, 2).reshape({out, in});
}

class ModelWriter {
 public:
  ModelWriter(gguf::Writer& writer, const ExportOptions& options, ExportSummary& summary)
      : writer_(writer), ternary_type_(options.ternary_type), matrix_type_(options.output_type), summary_(summary) {}

  // A norm weight (or any vector): F32.
  void add_float(const std::string& name, const at::Tensor& t) {
    require_finite(t, name);
    std::vector<uint64_t> dims;
    for (int64_t d = t.dim() - 1; d >= 0; --d) dims.push_back(static_cast<uint64_t>(t.size(d)));
    writer_.add_tensor(name, dims, TensorType::kF32, float_bytes(t));
    ++summary_.float_tensors;
  }

  // A full-precision matrix (out, in): the embedding, the output, a linear the recipe leaves
  // unquantized. Written as --output-type says.
  void add_matrix(const std::string& name, const at::Tensor& t) {
    require_finite(t, name);
    const at::Tensor c = t.detach().to(at::kFloat).contiguous();
    const int64_t out = c.size(0), in = c.size(1);
    model_file::add_matrix(writer_, name, c.data_ptr<float>(), out, in, matrix_type_);
    ++summary_.matrix_tensors;
  }

  // A linear: F32 when it has no quantizers, ternary blocks when it is a ternary x int8-per-token
  // layer; anything else cannot be run exactly and is refused. rotary_heads > 0 permutes rows.
  void add_linear(const std::string& name, const std::string& layer, QuantLinearImpl& linear, int64_t rotary_heads) {
    auto rows = [&](const at::Tensor& t) { return rotary_heads > 0 ? interleave_rotary_rows(t, rotary_heads) : t; };
    if (!linear.weight_quantizer && !linear.input_quantizer && !linear.output_quantizer) {
      add_matrix(name, rows(linear.weight));
      return;
    }
    const std::string why = "layer " + layer + " cannot be exported exactly: ";
    if (!linear.weight_quantizer || !linear.input_quantizer)
      fail(why + "the runtime runs ternary weights with int8 per-token inputs (preset bitnet_b158) or full "
                 "precision, not a layer with only one of them");
    if (linear.output_quantizer) fail(why + "output quantizers are not supported by the runtime");
    if (linear.bias.defined()) fail(why + "biases are not supported by the runtime");
    const QuantizerSpec& w = linear.weight_quantizer->spec();
    const QuantizerSpec& a = linear.input_quantizer->spec();
    if (w.levels.kind != LevelKind::kTernary)
      fail(why + "weights are " + w.levels.describe() + ", not ternary");
    if (w.granularity.kind != GranularityKind::kTensor && w.granularity.kind != GranularityKind::kChannel)
      fail(why + "weight scales per " + w.granularity.describe() +
           " are not supported (TQ blocks need one scale per row: use tensor or channel granularity)");
    if (a.levels.kind != LevelKind::kSignedInt || a.levels.bits != 8 || a.granularity.kind != GranularityKind::kToken ||
        a.scale.statistic != ScaleStatistic::kAbsMax || a.scale.learned || a.scale.asymmetric ||
        a.explicit_threshold())
      fail(why + "inputs are quantized as " + a.describe() + "; the runtime implements int8 absmax per token");
    // The runtime floors the activation scale at one eps per file (ternary.activation.scale_eps).
    if (activation_eps_ && *activation_eps_ != static_cast<float>(a.scale.eps))
      fail(why + "its input scale eps " + std::to_string(a.scale.eps) + " differs from other layers' " +
           std::to_string(*activation_eps_) + "; the file carries one activation eps");
    activation_eps_ = static_cast<float>(a.scale.eps);
    require_finite(linear.weight, name);
    const QuantizedValues q = linear.weight_quantizer->encode(linear.weight);
    if (q.scale_neg.defined()) fail(why + "separate positive/negative scales (TTQ) do not fit a TQ block's one d");
    require_finite(q.scale, name + " (its scale)");

    const int64_t out = linear.weight.size(0), in = linear.weight.size(1);
    if (in % kernels::kTernaryBlock != 0)
      fail(why + "its input size " + std::to_string(in) + " is not a multiple of 256, the GGUF ternary block "
                 "(choose model dims that are multiples of 256)");
    const at::Tensor codes = rows(q.codes).contiguous();
    at::Tensor scales = q.scale.reshape({-1});
    if (scales.numel() > 1) scales = rows(scales.reshape({-1, 1})).reshape({-1});
    scales = scales.contiguous();
    const float* s = scales.data_ptr<float>();
    model_file::add_ternary(writer_, name, codes.data_ptr<int8_t>(), out, in, {s, s + scales.numel()}, ternary_type_);
    granularity_ = w.granularity.describe();
    ++summary_.ternary_tensors;
  }

  const std::string& weight_granularity() const { return granularity_; }
  // The activation scale floor of the ternary layers (training's default when there are none).
  float activation_eps() const { return activation_eps_.value_or(static_cast<float>(ScaleSpec{}.eps)); }

 private:
  gguf::Writer& writer_;
  TensorType ternary_type_, matrix_type_;
  ExportSummary& summary_;
  std::string granularity_ = "none";
  std::optional<float> activation_eps_;
};

}  // namespace

ExportSummary export_gguf(const std::string& checkpoint_dir, const std::string& out_path, const ExportOptions& options) {
  if (options.ternary_type != TensorType::kTQ2_0 && options.ternary_type != TensorType::kTQ1_0)
    fail("--type must be tq2_0 or tq1_0");
  if (options.output_type != TensorType::kF32 && options.output_type != TensorType::kF16 &&
      options.output_type != TensorType::kQ8_0)
    fail("--output-type must be f32, f16 or q8_0");
  const Checkpoint checkpoint = Checkpoint::open(checkpoint_dir);
  const TrainConfig config = TrainConfig::parse(checkpoint.config_yaml(), checkpoint_dir + "/config.yaml");
  const Tokenizer tokenizer = Tokenizer::from_file(config.data.tokenizer, config.data.tokenizer_model);
  LlamaModel model(config.model, config.quantization.recipe());
  checkpoint.load_model(*model, /*include_quantizer_state=*/true);
  model->eval();
  const LlamaConfig& m = config.model;
  const bool bitnet = m.variant == LlamaVariant::kBitNet;

  gguf::Writer w;
  ExportSummary summary;
  model_file::set_model_keys(w, m, options.name.empty() ? fs::path(checkpoint_dir).filename().string() : options.name,
                             options.ternary_type);
  model_file::set_tokenizer(w, tokenizer, m.vocab_size);

  ModelWriter tensors(w, options, summary);
  tensors.add_matrix(gguf::kTokenEmbedding, model->embed_tokens->weight);
  for (int64_t i = 0; i < m.n_layers; ++i) {
    auto& layer = *model->layers[i]->as<LlamaDecoderLayerImpl>();
    const std::string hf = "layers." + std::to_string(i) + ".";
    auto name = [&](LayerTensor kind) { return gguf::tensor_name(i, kind); };
    tensors.add_float(name(LayerTensor::kAttnNorm), layer.input_layernorm->weight);
    tensors.add_linear(name(LayerTensor::kAttnQ), hf + "self_attn.q_proj", *layer.self_attn->q_proj, m.n_heads);
    tensors.add_linear(name(LayerTensor::kAttnK), hf + "self_attn.k_proj", *layer.self_attn->k_proj, m.n_kv_heads);
    tensors.add_linear(name(LayerTensor::kAttnV), hf + "self_attn.v_proj", *layer.self_attn->v_proj, 0);
    if (bitnet) tensors.add_float(name(LayerTensor::kAttnSubNorm), layer.self_attn->attn_sub_norm->weight);
    tensors.add_linear(name(LayerTensor::kAttnOutput), hf + "self_attn.o_proj", *layer.self_attn->o_proj, 0);
    tensors.add_float(name(LayerTensor::kFfnNorm), layer.post_attention_layernorm->weight);
    tensors.add_linear(name(LayerTensor::kFfnGate), hf + "mlp.gate_proj", *layer.mlp->gate_proj, 0);
    tensors.add_linear(name(LayerTensor::kFfnUp), hf + "mlp.up_proj", *layer.mlp->up_proj, 0);
    if (bitnet) tensors.add_float(name(LayerTensor::kFfnSubNorm), layer.mlp->ffn_sub_norm->weight);
    tensors.add_linear(name(LayerTensor::kFfnDown), hf + "mlp.down_proj", *layer.mlp->down_proj, 0);
  }
  tensors.add_float(gguf::kOutputNorm, model->norm->weight);
  if (model->lm_head) tensors.add_linear(gguf::kOutput, "lm_head", *model->lm_head, 0);
  model_file::set_quantization_keys(w, tensors.activation_eps(), tensors.weight_granularity(),
                                    config.quantization.rules_yaml.empty() ? config.quantization.preset : "recipe");
  w.write(out_path);
  summary.file_bytes = static_cast<int64_t>(fs::file_size(out_path));
  summary.checkpoint_model_bytes = static_cast<int64_t>(fs::file_size(fs::path(checkpoint_dir) / "model.pt"));
  return summary;
}

}  // namespace ternary
