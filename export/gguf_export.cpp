#include "export/gguf_export.h"

#include <ATen/ATen.h>
#include <sentencepiece_processor.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "export/gguf_writer.h"
#include "kernels/ternary_blocks.h"
#include "models/llama_model.h"
#include "train/checkpoint.h"
#include "train/train_config.h"

namespace ternary {
namespace {
namespace fs = std::filesystem;
using gguf::TensorType;
using gguf::Value;

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

std::vector<uint8_t> float_bytes(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kFloat).contiguous();
  std::vector<uint8_t> bytes(static_cast<size_t>(c.numel()) * 4);
  std::memcpy(bytes.data(), c.data_ptr<float>(), bytes.size());
  return bytes;
}

// HF's rotate-half Q/K rows -> llama.cpp's interleaved pairs (what convert_hf_to_gguf.py does):
// within each head, row i of the first half and row i of the second half become rows 2i, 2i+1.
at::Tensor interleave_rotary_rows(const at::Tensor& w, int64_t heads) {
  const int64_t out = w.size(0), in = w.size(1);
  return w.reshape({heads, 2, out / heads / 2, in}).transpose(1, 2).reshape({out, in});
}

class ModelWriter {
 public:
  ModelWriter(gguf::Writer& writer, TensorType ternary_type, ExportSummary& summary)
      : writer_(writer), ternary_type_(ternary_type), summary_(summary) {}

  void add_float(const std::string& name, const at::Tensor& t) {
    std::vector<uint64_t> dims;
    for (int64_t d = t.dim() - 1; d >= 0; --d) dims.push_back(static_cast<uint64_t>(t.size(d)));
    writer_.add_tensor(name, dims, TensorType::kF32, float_bytes(t));
    ++summary_.float_tensors;
  }

  // A linear: F32 when it has no quantizers, ternary blocks when it is a ternary x int8-per-token
  // layer; anything else cannot be run exactly and is refused. rotary_heads > 0 permutes rows.
  void add_linear(const std::string& name, const std::string& layer, QuantLinearImpl& linear, int64_t rotary_heads) {
    auto rows = [&](const at::Tensor& t) { return rotary_heads > 0 ? interleave_rotary_rows(t, rotary_heads) : t; };
    if (!linear.weight_quantizer && !linear.input_quantizer && !linear.output_quantizer) {
      add_float(name, rows(linear.weight));
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
        a.scale.statistic != ScaleStatistic::kAbsMax || a.scale.learned)
      fail(why + "inputs are quantized as " + a.describe() + "; the runtime implements int8 absmax per token");
    const QuantizedValues q = linear.weight_quantizer->encode(linear.weight);
    if (q.scale_neg.defined()) fail(why + "separate positive/negative scales (TTQ) do not fit a TQ block's one d");

    const int64_t out = linear.weight.size(0), in = linear.weight.size(1);
    if (in % kernels::kTernaryBlock != 0)
      fail(why + "its input size " + std::to_string(in) + " is not a multiple of 256, the GGUF ternary block "
                 "(choose model dims that are multiples of 256)");
    const at::Tensor codes = rows(q.codes).contiguous();
    at::Tensor scales = q.scale.reshape({-1});
    if (scales.numel() > 1) scales = rows(scales.reshape({-1, 1})).reshape({-1});
    scales = scales.contiguous();
    const int8_t* trits = codes.data_ptr<int8_t>();
    const float* s = scales.data_ptr<float>();
    const int64_t blocks_per_row = in / kernels::kTernaryBlock;
    std::vector<uint8_t> bytes(gguf::tensor_bytes(ternary_type_, static_cast<uint64_t>(out * in)));
    for (int64_t r = 0; r < out; ++r) {
      const float d = s[scales.numel() > 1 ? r : 0];
      if (ternary_type_ == TensorType::kTQ2_0)
        kernels::pack_tq2_0(trits + r * in, in, d,
                            reinterpret_cast<kernels::BlockTQ2_0*>(bytes.data()) + r * blocks_per_row);
      else
        kernels::pack_tq1_0(trits + r * in, in, d,
                            reinterpret_cast<kernels::BlockTQ1_0*>(bytes.data()) + r * blocks_per_row);
    }
    writer_.add_tensor(name, {static_cast<uint64_t>(in), static_cast<uint64_t>(out)}, ternary_type_, std::move(bytes));
    writer_.set("ternary.scale." + name, Value::f32s(std::vector<double>(s, s + scales.numel())));
    granularity_ = w.granularity.describe();
    ++summary_.ternary_tensors;
  }

  const std::string& weight_granularity() const { return granularity_; }

 private:
  gguf::Writer& writer_;
  TensorType ternary_type_;
  ExportSummary& summary_;
  std::string granularity_ = "none";
};

// Tokenizer keys: llama.cpp's (tokenizer.ggml.*) plus what our runtime needs to reproduce training.
void add_tokenizer(gguf::Writer& w, const DataConfig& data, int64_t vocab_size) {
  std::vector<std::string> tokens;
  std::vector<double> scores;
  std::vector<int64_t> types;  // llama.cpp: 1 normal, 2 unknown, 3 control, 4 user defined, 6 byte
  w.set("tokenizer.ggml.model", Value::string("llama"));
  if (data.tokenizer == "bytes") {
    // Our byte tokenizer as an SPM vocabulary of byte tokens; the space is SPM's escaped "▁".
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      tokens.push_back(b == ' ' ? "\xe2\x96\x81" : name);
      scores.push_back(0.0);
      types.push_back(b == ' ' ? 1 : 6);
    }
    w.set("tokenizer.ggml.add_bos_token", Value::boolean(false));
    w.set("tokenizer.ggml.add_space_prefix", Value::boolean(false));
    w.set("ternary.tokenizer", Value::string("bytes"));
  } else {
    std::ifstream in(data.tokenizer_model, std::ios::binary);
    if (!in) fail(data.tokenizer_model + ": cannot read the SentencePiece model the checkpoint was trained with");
    std::stringstream blob;
    blob << in.rdbuf();
    sentencepiece::SentencePieceProcessor sp;
    if (!sp.LoadFromSerializedProto(blob.str()).ok()) fail(data.tokenizer_model + ": not a SentencePiece model");
    for (int id = 0; id < sp.GetPieceSize(); ++id) {
      tokens.push_back(sp.IdToPiece(id));
      scores.push_back(sp.GetScore(id));
      types.push_back(sp.IsUnknown(id) ? 2 : sp.IsControl(id) ? 3 : sp.IsByte(id) ? 6 : sp.IsUnused(id) ? 5 : 1);
    }
    if (sp.unk_id() >= 0) w.set("tokenizer.ggml.unknown_token_id", Value::u32(static_cast<uint32_t>(sp.unk_id())));
    if (sp.bos_id() >= 0) w.set("tokenizer.ggml.bos_token_id", Value::u32(static_cast<uint32_t>(sp.bos_id())));
    if (sp.eos_id() >= 0) w.set("tokenizer.ggml.eos_token_id", Value::u32(static_cast<uint32_t>(sp.eos_id())));
    w.set("tokenizer.ggml.add_bos_token", Value::boolean(false));  // training data had none
    w.set("ternary.tokenizer", Value::string("sentencepiece"));
    const std::string proto = blob.str();
    w.set("ternary.tokenizer.sentencepiece_model", Value::u8s(std::vector<int64_t>(proto.begin(), proto.end())));
  }
  for (int64_t id = static_cast<int64_t>(tokens.size()); id < vocab_size; ++id) {  // model rows past the tokenizer
    tokens.push_back("<unused" + std::to_string(id) + ">");
    scores.push_back(0.0);
    types.push_back(5);
  }
  w.set("tokenizer.ggml.tokens", Value::strings(std::move(tokens)));
  w.set("tokenizer.ggml.scores", Value::f32s(std::move(scores)));
  w.set("tokenizer.ggml.token_type", Value::i32s(std::move(types)));
}

}  // namespace

ExportSummary export_gguf(const std::string& checkpoint_dir, const std::string& out_path, const ExportOptions& options) {
  if (options.ternary_type != TensorType::kTQ2_0 && options.ternary_type != TensorType::kTQ1_0)
    fail("--type must be tq2_0 or tq1_0");
  const TrainConfig config = TrainConfig::parse(read_checkpoint_config(checkpoint_dir), checkpoint_dir + "/config.yaml");
  LlamaModel model(config.model, config.quantization.recipe());
  load_model_tensors(checkpoint_dir, *model, /*include_quantizer_state=*/true);
  model->eval();
  const LlamaConfig& m = config.model;
  const bool bitnet = m.variant == LlamaVariant::kBitNet;
  const std::string arch = bitnet ? gguf::kBitNetArchitecture : gguf::kLlamaArchitecture;

  gguf::Writer w;
  ExportSummary summary;
  w.set("general.architecture", Value::string(arch));
  w.set("general.name", Value::string(options.name.empty() ? fs::path(checkpoint_dir).filename().string() : options.name));
  w.set("general.quantization_version", Value::u32(2));
  w.set("general.file_type", Value::u32(options.ternary_type == TensorType::kTQ2_0 ? 37 : 36));  // MOSTLY_TQ2_0 / TQ1_0
  w.set("general.alignment", Value::u32(static_cast<uint32_t>(gguf::kDefaultAlignment)));
  w.set(arch + ".context_length", Value::u32(static_cast<uint32_t>(m.max_seq_len)));
  w.set(arch + ".embedding_length", Value::u32(static_cast<uint32_t>(m.dim)));
  w.set(arch + ".block_count", Value::u32(static_cast<uint32_t>(m.n_layers)));
  w.set(arch + ".feed_forward_length", Value::u32(static_cast<uint32_t>(m.ffn_dim)));
  w.set(arch + ".attention.head_count", Value::u32(static_cast<uint32_t>(m.n_heads)));
  w.set(arch + ".attention.head_count_kv", Value::u32(static_cast<uint32_t>(m.n_kv_heads)));
  w.set(arch + ".rope.freq_base", Value::f32(static_cast<float>(m.rope_theta)));
  w.set(arch + ".rope.dimension_count", Value::u32(static_cast<uint32_t>(m.head_dim())));
  w.set(arch + ".attention.layer_norm_rms_epsilon", Value::f32(static_cast<float>(m.norm_eps)));
  w.set(arch + ".vocab_size", Value::u32(static_cast<uint32_t>(m.vocab_size)));
  w.set("ternary.producer", Value::string(std::string("ternary-engine ") + TERNARY_ENGINE_VERSION));
  w.set("ternary.variant", Value::string(to_string(m.variant)));
  w.set("ternary.activation.bits", Value::u32(8));
  w.set("ternary.activation.granularity", Value::string("token"));
  w.set("ternary.activation.scale", Value::string("absmax/127, min 1e-5"));
  w.set("ternary.activation.rounding", Value::string("nearest, ties to even"));
  w.set("ternary.rotary_layout", Value::string("interleaved"));
  add_tokenizer(w, config.data, m.vocab_size);

  ModelWriter tensors(w, options.ternary_type, summary);
  tensors.add_float("token_embd.weight", model->embed_tokens->weight);
  for (int64_t i = 0; i < m.n_layers; ++i) {
    auto& layer = *model->layers[i]->as<LlamaDecoderLayerImpl>();
    const std::string blk = "blk." + std::to_string(i) + ".", hf = "layers." + std::to_string(i) + ".";
    tensors.add_float(blk + "attn_norm.weight", layer.input_layernorm->weight);
    tensors.add_linear(blk + "attn_q.weight", hf + "self_attn.q_proj", *layer.self_attn->q_proj, m.n_heads);
    tensors.add_linear(blk + "attn_k.weight", hf + "self_attn.k_proj", *layer.self_attn->k_proj, m.n_kv_heads);
    tensors.add_linear(blk + "attn_v.weight", hf + "self_attn.v_proj", *layer.self_attn->v_proj, 0);
    if (bitnet) tensors.add_float(blk + "attn_sub_norm.weight", layer.self_attn->attn_sub_norm->weight);
    tensors.add_linear(blk + "attn_output.weight", hf + "self_attn.o_proj", *layer.self_attn->o_proj, 0);
    tensors.add_float(blk + "ffn_norm.weight", layer.post_attention_layernorm->weight);
    tensors.add_linear(blk + "ffn_gate.weight", hf + "mlp.gate_proj", *layer.mlp->gate_proj, 0);
    tensors.add_linear(blk + "ffn_up.weight", hf + "mlp.up_proj", *layer.mlp->up_proj, 0);
    if (bitnet) tensors.add_float(blk + "ffn_sub_norm.weight", layer.mlp->ffn_sub_norm->weight);
    tensors.add_linear(blk + "ffn_down.weight", hf + "mlp.down_proj", *layer.mlp->down_proj, 0);
  }
  tensors.add_float("output_norm.weight", model->norm->weight);
  if (model->lm_head) tensors.add_linear("output.weight", "lm_head", *model->lm_head, 0);
  w.set("ternary.weight.granularity", Value::string(tensors.weight_granularity()));
  w.set("ternary.weight.preset", Value::string(config.quantization.rules_yaml.empty() ? config.quantization.preset
                                                                                       : "recipe"));
  w.write(out_path);
  summary.file_bytes = static_cast<int64_t>(fs::file_size(out_path));
  summary.checkpoint_model_bytes = static_cast<int64_t>(fs::file_size(fs::path(checkpoint_dir) / "model.pt"));
  return summary;
}

}  // namespace ternary
