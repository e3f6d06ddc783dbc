#include "models/hf_import.h"

#include "modules/quant_slot_names.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "models/safetensors.h"

namespace ternary {
namespace {

[[noreturn]] void fail(const std::string& where, const std::string& message) {
  throw std::runtime_error(where + ": " + message);
}

template <typename T>
T required(const nlohmann::json& json, const char* key, const std::string& path) {
  if (!json.contains(key) || json[key].is_null()) fail(path, std::string("missing '") + key + "'");
  try {
    return json[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    fail(path, std::string("'") + key + "' has the wrong type");
  }
}

// Our parameter name -> the checkpoint's ("layers.0.mlp.up_proj.weight" -> "model.layers...").
std::string hf_name(const std::string& ours) { return ours.rfind("lm_head.", 0) == 0 ? ours : "model." + ours; }

}  // namespace

LlamaConfig llama_config_from_hf(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot open (a Hugging Face model directory needs config.json)");
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("not valid JSON (") + e.what() + ")");
  }
  const std::string model_type = json.value("model_type", "");
  bool llama = model_type == "llama";
  if (json.contains("architectures"))
    for (const auto& a : json["architectures"]) llama = llama || a == "LlamaForCausalLM";
  if (!llama) fail(path, "model_type '" + model_type + "' is not supported; only LLaMA (LlamaForCausalLM) is");
  if (json.value("hidden_act", "silu") != "silu") fail(path, "hidden_act must be silu for LLaMA");
  if (json.value("attention_bias", false) || json.value("mlp_bias", false))
    fail(path, "attention_bias / mlp_bias are not supported");

  LlamaConfig c;
  c.vocab_size = required<int64_t>(json, "vocab_size", path);
  c.dim = required<int64_t>(json, "hidden_size", path);
  c.n_layers = required<int64_t>(json, "num_hidden_layers", path);
  c.n_heads = required<int64_t>(json, "num_attention_heads", path);
  c.n_kv_heads = json.contains("num_key_value_heads") && !json["num_key_value_heads"].is_null()
                     ? json["num_key_value_heads"].get<int64_t>()
                     : c.n_heads;
  c.ffn_dim = required<int64_t>(json, "intermediate_size", path);
  c.norm_eps = json.value("rms_norm_eps", 1e-6);
  c.max_seq_len = json.value("max_position_embeddings", int64_t{2048});
  c.tie_embeddings = json.value("tie_word_embeddings", false);
  // transformers 5 nests rope settings in rope_parameters; older configs use rope_theta/rope_scaling.
  c.rope_theta = json.value("rope_theta", 10000.0);
  if (json.contains("rope_parameters") && json["rope_parameters"].is_object()) {
    const auto& rope = json["rope_parameters"];
    c.rope_theta = rope.value("rope_theta", c.rope_theta);
    if (rope.value("rope_type", "default") != "default")
      fail(path, "rope_type '" + rope["rope_type"].get<std::string>() + "' is not supported (only default RoPE)");
  }
  if (json.contains("rope_scaling") && !json["rope_scaling"].is_null())
    fail(path, "rope_scaling is not supported (only default RoPE)");
  if (json.contains("head_dim") && !json["head_dim"].is_null() && json["head_dim"].get<int64_t>() * c.n_heads != c.dim)
    fail(path, "head_dim * num_attention_heads must equal hidden_size");
  try {
    c.validate();
  } catch (const std::invalid_argument& e) {
    fail(path, e.what());
  }
  return c;
}

LlamaModel load_hf_llama(const std::string& dir, const Recipe& recipe) {
  namespace fs = std::filesystem;
  LlamaModel model(llama_config_from_hf((fs::path(dir) / "config.json").string()), recipe);
  const auto tensors = read_safetensors_dir(dir);
  std::set<std::string> used;
  at::NoGradGuard no_grad;
  for (auto& param : model->named_parameters()) {
    if (is_quantizer_state(param.key())) continue;  // ours; initialised below
    const std::string name = hf_name(param.key());
    const auto found = tensors.find(name);
    if (found == tensors.end()) fail(dir, "checkpoint has no tensor '" + name + "'");
    if (found->second.sizes() != param.value().sizes())
      fail(dir, "tensor '" + name + "' has shape " + c10::str(found->second.sizes()) + ", the model expects " +
                    c10::str(param.value().sizes()));
    param.value().copy_(found->second.to(at::kFloat));
    used.insert(name);
  }
  for (const auto& [name, tensor] : tensors)
    if (!used.count(name) && name.find("rotary_emb.inv_freq") == std::string::npos)
      fail(dir, "checkpoint tensor '" + name + "' has no place in a LLaMA model (another architecture?)");
  model->initialize_quantizers();
  return model;
}

}  // namespace ternary
