#include "train/train_config.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <limits>

#include "common/threads.h"
#include "quantizers/presets.h"
#include "quantizers/yaml_reader.h"
#include "train/config_overrides.h"
#include "train/config_schema.h"

namespace ternary {
namespace {

constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();
constexpr double kInf = std::numeric_limits<double>::infinity();

// The model section's defaults as a config sees them: vocabulary and context follow the data.
LlamaConfig model_defaults() {
  LlamaConfig m;
  m.vocab_size = 0;   // auto: the tokenizer's
  m.max_seq_len = 0;  // auto: training.seq_len
  return m;
}

const ConfigSchema<LlamaConfig>& model_schema() {
  static const ConfigSchema<LlamaConfig> schema = [] {
    ConfigSchema<LlamaConfig> s("model");
    s.choice("variant", &LlamaConfig::variant, named({LlamaVariant::kLlama, LlamaVariant::kBitNet}),
             "`llama` (RMSNorm, SwiGLU) or `bitnet` (adds SubLN before o_proj/down_proj, ReLU² MLP)")
        .integer_or_auto("vocab_size", &LlamaConfig::vocab_size, 1, "`auto` = the tokenizer's vocabulary")
        .integer("dim", &LlamaConfig::dim, 1, kNoMax, "hidden size (a multiple of 256 to export)")
        .integer("n_layers", &LlamaConfig::n_layers, 1, kNoMax, "decoder layers")
        .integer("n_heads", &LlamaConfig::n_heads, 1, kNoMax, "must divide `dim`; `dim/n_heads` even (RoPE)")
        .integer("n_kv_heads", &LlamaConfig::n_kv_heads, 1, kNoMax,
                 "default `n_heads`; grouped-query attention when smaller; must divide `n_heads`")
        .integer("ffn_dim", &LlamaConfig::ffn_dim, 1, kNoMax, "MLP width")
        .number("rope_theta", &LlamaConfig::rope_theta, 1e-9, 1e12, "RoPE base")
        .number("norm_eps", &LlamaConfig::norm_eps, 1e-12, 1.0, "RMSNorm ε")
        .integer_or_auto("max_seq_len", &LlamaConfig::max_seq_len, 1, "`auto` = `training.seq_len`; must be ≥ it")
        .flag("tie_embeddings", &LlamaConfig::tie_embeddings,
              "lm_head shares the embedding (then lm_head must stay full precision)")
        .check([](const SectionNode& s, LlamaConfig& m) {
          if (!s.has("n_kv_heads")) m.n_kv_heads = m.n_heads;
        });
    return s;
  }();
  return schema;
}

// preset, recipe and rules are three spellings of one choice: at most one may be given.
void require_one_recipe_source(const SectionNode& s) {
  if (s.has("preset") + s.has("recipe") + s.has("rules") > 1)
    s.reader().fail(s.node(), "quantization: give one of 'preset', 'recipe' (a file) or 'rules' (inline)");
}

// Validates the rules (errors name the rule's file and line) and keeps them as YAML text.
void keep_rules(YAML::Node rules, const std::string& source, QuantizationConfig& q) {
  if (rules.IsMap() && rules["rules"]) rules.reset(rules["rules"]);  // reset rebinds; = would overwrite
  Recipe::from_yaml_node(rules, source);
  q.rules_yaml = YAML::Dump(rules);
}

const ConfigSchema<QuantizationConfig>& quantization_schema() {
  using Q = QuantizationConfig;
  using Key = ConfigSchema<Q>::Key;
  static const ConfigSchema<Q> schema = [] {
    ConfigSchema<Q> s("quantization");
    s.custom(Key{"preset", "a preset for every linear except embeddings and lm_head; `none` = full precision",
                 "a preset name ([quantizers.md](quantizers.md)) or none",
                 [](const SectionNode& s, Q& q) {
                   require_one_recipe_source(s);
                   q.preset = s.reader().scalar<std::string>(s.get("preset"), "preset", "a preset name");
                   try {
                     Recipe::from_preset(q.preset);
                   } catch (const ConfigError& e) {
                     s.fail("preset", e.what());
                   }
                 },
                 [](YAML::Emitter& e, const Q& q) {
                   if (!q.rules_yaml.empty()) return false;  // the rules stand in for the preset
                   e << YAML::Key << "preset" << YAML::Value << q.preset;
                   return true;
                 },
                 [](const Q& q) { return q.preset; }})
        .custom(Key{"recipe", "a recipe file; dumped configs carry its rules inline", "a path",
                    [](const SectionNode& s, Q& q) {
                      require_one_recipe_source(s);
                      const auto path = s.reader().scalar<std::string>(s.get("recipe"), "recipe", "a path");
                      std::ifstream in(path);
                      if (!in) s.fail("recipe", "cannot open recipe file '" + path + "' (check the path)");
                      const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
                      keep_rules(YamlReader(path).load(text), path, q);
                    },
                    [](YAML::Emitter&, const Q&) { return false; },
                    [](const Q&) { return std::string("—"); }})
        .custom(Key{"rules", "inline recipe rules ([quantizers.md](quantizers.md))", "a list of rules",
                    [](const SectionNode& s, Q& q) {
                      require_one_recipe_source(s);
                      keep_rules(s.get("rules"), s.reader().source(), q);
                    },
                    [](YAML::Emitter& e, const Q& q) {
                      if (q.rules_yaml.empty()) return false;
                      e << YAML::Key << "rules" << YAML::Value << YAML::Load(q.rules_yaml);
                      return true;
                    },
                    [](const Q&) { return std::string("—"); }})
        .integer("warmup_steps", &Q::warmup_steps, 0, kNoMax,
                 "λ ramps 0→1 over these steps: `x + λ(q(x) − x)` (fine-tuning a full-precision model)");
    return s;
  }();
  return schema;
}

const ConfigSchema<ScheduleConfig>& schedule_schema() {
  static const ConfigSchema<ScheduleConfig> schema = [] {
    ConfigSchema<ScheduleConfig> s("schedule");
    s.integer("warmup_steps", &ScheduleConfig::warmup_steps, 0, kNoMax, "linear lr warm-up")
        .integer("decay_steps", &ScheduleConfig::decay_steps, 0, kNoMax, "cosine decay ends here (0 = `training.steps`)")
        .number("min_lr_ratio", &ScheduleConfig::min_lr_ratio, 0.0, 1.0, "lr floor as a fraction of `optimizer.lr`");
    return s;
  }();
  return schema;
}

const ConfigSchema<TrainingConfig>& training_schema() {
  static const ConfigSchema<TrainingConfig> schema = [] {
    ConfigSchema<TrainingConfig> s("training");
    s.integer("steps", &TrainingConfig::steps, 1, kNoMax, "optimizer steps")
        .integer("batch_size", &TrainingConfig::batch_size, 1, kNoMax, "sequences per micro-batch")
        .integer("seq_len", &TrainingConfig::seq_len, 1, kNoMax, "tokens per sequence")
        .integer("grad_accum", &TrainingConfig::grad_accum, 1, kNoMax, "micro-batches per optimizer step")
        .number("grad_clip", &TrainingConfig::grad_clip, 0.0, kInf, "max gradient norm (0 = off); see `grad_clip_scope`")
        .choice("grad_clip_scope", &TrainingConfig::grad_clip_scope,
                named({GradClipScope::kGlobal, GradClipScope::kParameter}),
                "`global`: clip the norm of all gradients together; `parameter`: clip each parameter's gradient to "
                "its own norm (what `optimizer.step_in_backward` can do)")
        .choice("master_weights", &TrainingConfig::master_weights, named({MasterWeights::kFp32, MasterWeights::kBf16}),
                "dtype of the trained weight matrices; `bf16` halves them and the 8-bit optimizer updates them "
                "with seeded stochastic rounding (needs `autocast: bf16` and an 8-bit optimizer)")
        .choice("autocast", &TrainingConfig::autocast, named({Autocast::kNone, Autocast::kBf16}),
                "`bf16`: the training forward under LibTorch autocast (bf16 matmuls; weights, gradients, optimizer "
                "state and eval stay fp32)")
        .choice("on_nonfinite", &TrainingConfig::on_nonfinite, named({OnNonFinite::kSkip, OnNonFinite::kStop}),
                "a step with a NaN/Inf loss or gradient norm: `skip` it (weights and optimizer state unchanged, as "
                "AMP's GradScaler) or `stop` the run")
        .integer("max_nonfinite_steps", &TrainingConfig::max_nonfinite_steps, 1, kNoMax,
                 "with `skip`: this many non-finite steps in a row stop the run as diverged")
        .flag("tensorboard", &TrainingConfig::tensorboard,
              "also write every metric as TensorBoard scalars to `<output_dir>/tensorboard/` "
              "(`tensorboard --logdir <output_dir>`)")
        .flag("activation_checkpointing", &TrainingConfig::activation_checkpointing,
              "keep no activations inside decoder layers; recompute each layer in backward (less memory, "
              "about a third more compute; same results)");
    return s;
  }();
  return schema;
}

const ConfigSchema<EvalConfig>& eval_schema() {
  static const ConfigSchema<EvalConfig> schema = [] {
    ConfigSchema<EvalConfig> s("eval");
    s.integer("every", &EvalConfig::every, 0, kNoMax, "val loss/perplexity every N steps and at the end (0 = the end)")
        .integer("batches", &EvalConfig::batches, 1, kNoMax, "fixed val windows of batch_size × seq_len")
        .integer("log_every", &EvalConfig::log_every, 1, kNoMax,
                 "a progress line every N steps when stderr is not a terminal (on a terminal: a live bar)")
        .integer("sample_tokens", &EvalConfig::sample_tokens, 0, kNoMax, "a sample at each eval (0 = none)")
        .text("sample_prompt", &EvalConfig::sample_prompt, "the sample's prompt", /*quoted=*/true)
        .number("temperature", &EvalConfig::temperature, 0.0, 100.0, "sampling temperature (0 = greedy)")
        .integer("top_k", &EvalConfig::top_k, 0, kNoMax, "sample among the k most likely (0 = all)");
    return s;
  }();
  return schema;
}

const ConfigSchema<CheckpointConfig>& checkpoint_schema() {
  static const ConfigSchema<CheckpointConfig> schema = [] {
    ConfigSchema<CheckpointConfig> s("checkpoint");
    s.integer("every", &CheckpointConfig::every, 0, kNoMax, "steps between checkpoints; also at the end and on Ctrl-C")
        .integer("keep_last", &CheckpointConfig::keep_last, 1, kNoMax, "step checkpoints kept")
        .flag("keep_best", &CheckpointConfig::keep_best, "also keep `best/`, the lowest val loss");
    return s;
  }();
  return schema;
}

const ConfigSchema<DistributedConfig>& distributed_schema() {
  static const ConfigSchema<DistributedConfig> schema = [] {
    ConfigSchema<DistributedConfig> s("distributed");
    s.integer("timeout_seconds", &DistributedConfig::timeout_seconds, 1, 7 * 24 * 3600,
              "a rendezvous or collective waiting longer fails (a rank died or hangs)")
        .number("bucket_mb", &DistributedConfig::bucket_mb, 0.001, 4096.0,
                "gradients are all-reduced in buckets of about this many MB, overlapping backward");
    return s;
  }();
  return schema;
}

const ConfigSchema<DataConfig>& data_schema() {
  static const ConfigSchema<DataConfig> schema = [] {
    ConfigSchema<DataConfig> s("data");
    s.paths("text_files", &DataConfig::text_files,
                "text files, directories (every file under them) or glob patterns, tokenized once into `data.cache` "
                "(streamed, constant memory)")
        .text("tokenized", &DataConfig::tokenized,
              "instead of text files: a tokenized `TTOKENS1` file, or a directory of shards with its index.json "
              "(`ternary-tokenizer encode [--shards]`)")
        .choice("tokenizer", &DataConfig::tokenizer, named({TokenizerKind::kBytes, TokenizerKind::kSentencePiece}),
                "`bytes` (256 ids) or `sentencepiece` with `tokenizer_model`")
        .text("tokenizer_model", &DataConfig::tokenizer_model, "the SentencePiece `tokenizer.model`")
        .text("cache", &DataConfig::cache,
              "tokenized cache (empty = `<output_dir>/tokens.bin`); rebuilt when sources or tokenizer change")
        .number("val_fraction", &DataConfig::val_fraction, 1e-6, 0.5, "the tail of the corpus held out for validation")
        .check([](const SectionNode& s, DataConfig& c) {
          if (c.text_files.empty() && c.tokenized.empty())
            s.fail("text_files", "give at least one text file, or 'tokenized'");
          if (c.tokenizer == TokenizerKind::kSentencePiece && c.tokenizer_model.empty())
            s.fail("tokenizer", "sentencepiece needs data.tokenizer_model: path/to/tokenizer.model");
        });
    return s;
  }();
  return schema;
}

const ConfigSchema<InitConfig>& init_schema() {
  static const ConfigSchema<InitConfig> schema = [] {
    ConfigSchema<InitConfig> s("init");
    s.choice("from", &InitConfig::from, named({ModelSource::kScratch, ModelSource::kCheckpoint, ModelSource::kHf}),
             "`checkpoint`: weights of a ternary-train checkpoint (shape from its config, quantizers re-initialised "
             "under this run's recipe); `hf`: a Hugging Face LLaMA dir (`config.json` + safetensors)")
        .text("path", &InitConfig::path, "the checkpoint or Hugging Face directory")
        .choice("calibrate", &InitConfig::calibrate,
                named({CalibrationMethod::kAbsmean, CalibrationMethod::kGptq, CalibrationMethod::kAwq,
                       CalibrationMethod::kAwqGptq}),
                "how ternary weights are chosen from the pretrained ones: `absmean` rounds as the recipe does; "
                "`gptq`, `awq`, `awq+gptq` calibrate on the data ([conversion.md](conversion.md))")
        .integer("calibration_sequences", &InitConfig::calibration_sequences, 1, 1 << 20,
                 "calibration sequences of `training.seq_len` tokens from the training split")
        .text("calibration_statistics", &InitConfig::calibration_statistics,
              "directory of the statistics; empty = `<output_dir>/calibration`; reused while model and tokens match")
        .number("gptq_damp", &InitConfig::gptq_damp, 0.0, 1.0, "GPTQ: added to diag(H) as a fraction of its mean")
        .integer("gptq_block_size", &InitConfig::gptq_block_size, 1, 1 << 16, "GPTQ: columns per lazy update")
        .integer("awq_grid", &InitConfig::awq_grid, 1, 1000, "AWQ: steps of the exponent α on each side of 0 (α ∈ [−1, 1])")
        .check([](const SectionNode& s, InitConfig& c) {
          if (c.from != ModelSource::kScratch && c.path.empty())
            s.fail("path", std::string("init.from: ") + to_string(c.from) + " needs init.path: DIR");
          if (c.from == ModelSource::kScratch && c.calibrate != CalibrationMethod::kAbsmean)
            s.fail("calibrate", std::string("init.calibrate: ") + to_string(c.calibrate) +
                                    " starts from pretrained weights; set init.from: checkpoint or hf");
        });
    return s;
  }();
  return schema;
}

const ConfigSchema<DistillationConfig>& distillation_schema() {
  static const ConfigSchema<DistillationConfig> schema = [] {
    ConfigSchema<DistillationConfig> s("distillation");
    s.text("teacher", &DistillationConfig::teacher, "teacher checkpoint or HF dir (empty = no distillation)")
        .choice("teacher_from", &DistillationConfig::teacher_from, named({ModelSource::kCheckpoint, ModelSource::kHf}),
                "what `teacher` is; same vocabulary as the student")
        .number("weight", &DistillationConfig::weight, 0.0, 1.0, "loss = (1−w)·CE + w·T²·KL(teacher ‖ student)")
        .number("temperature", &DistillationConfig::temperature, 1e-3, 100.0, "T of the KL term");
    return s;
  }();
  return schema;
}

const ConfigSchema<TrainConfig>& top_level_schema() {
  static const ConfigSchema<TrainConfig> schema = [] {
    ConfigSchema<TrainConfig> s("");
    s.integer("seed", &TrainConfig::seed, 0, int64_t{1} << 62, "initialisation and data order (sampling adds the step to it)")
        .integer("threads", &TrainConfig::threads, 0, kNoMax,
                 "0 = LibTorch's default; at most 4 × the hardware threads")
        .choice("device", &TrainConfig::device, named({Device::kCpu, Device::kCuda}),
                "`cuda` needs a CUDA build of LibTorch and a GPU ([cuda.md](cuda.md))")
        .text("output_dir", &TrainConfig::output_dir,
              "a fresh run refuses a directory that already has checkpoints (use `--resume`)", false,
              /*allow_empty=*/false)
        .check([](const SectionNode& s, TrainConfig& c) {
          if (c.threads > max_threads())
            s.fail("threads", "must be at most " + std::to_string(max_threads()) + " (4 x this machine's " +
                                  std::to_string(max_threads() / 4) + " hardware threads), got " +
                                  std::to_string(c.threads));
        });
    return s;
  }();
  return schema;
}

std::vector<std::string> section_names() {
  std::vector<std::string> names = {"model", "quantization", "optimizer", "schedule", "training", "eval",
                                    "checkpoint", "data", "init", "distillation", "distributed"};
  for (const auto& k : top_level_schema().keys()) names.push_back(k.name);
  return names;
}

// Keys of different sections that do not go together; each error names the key and the fix.
void check_combinations(const YamlReader& reader, const YAML::Node& root, const TrainConfig& c) {
  const SectionNode optimizer(reader, root, "optimizer"), training(reader, root, "training");
  if (c.optimizer.step_in_backward) {
    const std::string why = " needs every gradient at once, and with step_in_backward no two exist together";
    if (c.training.grad_accum > 1)
      optimizer.fail("step_in_backward", "training.grad_accum " + std::to_string(c.training.grad_accum) + why +
                                             "; set training.grad_accum: 1 (raise batch_size instead)");
    if (c.training.grad_clip > 0 && c.training.grad_clip_scope == GradClipScope::kGlobal)
      optimizer.fail("step_in_backward", "global-norm clipping (training.grad_clip)" + why +
                                             "; set training.grad_clip_scope: parameter, or training.grad_clip: 0");
    if (c.optimizer.shard_state)
      optimizer.fail("step_in_backward", "does not combine with shard_state (sharded gradients are reduced after "
                                         "backward); use one of the two");
  }
  if (c.training.grad_clip_scope == GradClipScope::kParameter && c.optimizer.shard_state)
    training.fail("grad_clip_scope", "`parameter` does not combine with optimizer.shard_state (a rank holds pieces "
                                     "of parameters); use `global`");
  if (c.training.master_weights == MasterWeights::kBf16) {
    if (c.training.autocast != Autocast::kBf16)
      training.fail("master_weights", "bf16 master weights need training.autocast: bf16 (the forward must run in "
                                      "bf16); set it");
    if (!is_8bit(c.optimizer.name))
      training.fail("master_weights", std::string("bf16 needs an 8-bit optimizer, which rounds updates "
                                                  "stochastically; optimizer '") +
                                          to_string(c.optimizer.name) + "' would lose small updates to rounding");
  }
}

}  // namespace

const char* to_string(Autocast a) { return a == Autocast::kBf16 ? "bf16" : "none"; }

const char* to_string(GradClipScope scope) { return scope == GradClipScope::kParameter ? "parameter" : "global"; }

const char* to_string(MasterWeights dtype) { return dtype == MasterWeights::kBf16 ? "bf16" : "fp32"; }

const char* to_string(OnNonFinite policy) { return policy == OnNonFinite::kStop ? "stop" : "skip"; }

const char* to_string(CalibrationMethod method) {
  switch (method) {
    case CalibrationMethod::kAbsmean: return "absmean";
    case CalibrationMethod::kGptq: return "gptq";
    case CalibrationMethod::kAwq: return "awq";
    case CalibrationMethod::kAwqGptq: return "awq+gptq";
  }
  return "?";
}

const char* to_string(ModelSource source) {
  switch (source) {
    case ModelSource::kScratch: return "scratch";
    case ModelSource::kCheckpoint: return "checkpoint";
    case ModelSource::kHf: return "hf";
  }
  return "?";
}

Recipe QuantizationConfig::recipe() const {
  if (!rules_yaml.empty()) return Recipe::from_yaml_node(YAML::Load(rules_yaml), "quantization.rules");
  return Recipe::from_preset(preset);
}

TrainConfig TrainConfig::parse(const std::string& yaml_text, const std::string& source,
                               const std::vector<std::string>& overrides) {
  const YamlReader reader(source);
  YAML::Node root = reader.load(yaml_text);
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) reader.fail(root, "a training config must be a map of sections (model:, optimizer:, ...)");
  for (const auto& assignment : overrides) apply_override(root, assignment);
  reader.check_keys(root, section_names(), "the training config");

  TrainConfig c;
  training_schema().parse(reader, root, c.training);
  c.model = model_defaults();
  model_schema().parse(reader, root, c.model);
  const SectionNode model(reader, root, "model");
  if (c.model.max_seq_len == 0) c.model.max_seq_len = c.training.seq_len;
  if (c.training.seq_len > c.model.max_seq_len)
    model.fail("max_seq_len", "is " + std::to_string(c.model.max_seq_len) + " but training.seq_len is " +
                                  std::to_string(c.training.seq_len) + "; raise max_seq_len or lower seq_len");
  LlamaConfig check = c.model;
  if (check.vocab_size == 0) check.vocab_size = 1;
  try {
    check.validate();
  } catch (const FieldError& e) {
    model.fail_at(e.field(), std::string("model.") + e.what());
  }
  quantization_schema().parse(reader, root, c.quantization);
  c.optimizer = OptimizerConfig::from_config(root, reader);
  schedule_schema().parse(reader, root, c.schedule);
  eval_schema().parse(reader, root, c.eval);
  checkpoint_schema().parse(reader, root, c.checkpoint);
  distributed_schema().parse(reader, root, c.distributed);
  data_schema().parse(reader, root, c.data);
  init_schema().parse(reader, root, c.init);
  distillation_schema().parse(reader, root, c.distillation);
  top_level_schema().parse(reader, root, c);
  check_combinations(reader, root, c);
  return c;
}

TrainConfig TrainConfig::from_file(const std::string& path, const std::vector<std::string>& overrides) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error))
    throw ConfigError(path + ": is a directory; give the config file itself (e.g. configs/llama_qat.yaml)");
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open the config file (check the path)");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw ConfigError(path + ": cannot read the config file");
  return parse(text, path, overrides);
}

std::string TrainConfig::to_yaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  auto section = [&](const auto& schema, const auto& value) {
    out << YAML::Key << schema.section() << YAML::Value << YAML::BeginMap;
    schema.dump(out, value);
    out << YAML::EndMap;
  };
  section(model_schema(), model);
  section(quantization_schema(), quantization);
  section(OptimizerConfig::schema(), optimizer);
  section(schedule_schema(), schedule);
  section(training_schema(), training);
  section(eval_schema(), eval);
  section(checkpoint_schema(), checkpoint);
  section(data_schema(), data);
  section(init_schema(), init);
  section(distillation_schema(), distillation);
  section(distributed_schema(), distributed);
  top_level_schema().dump(out, *this);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string TrainConfig::keys_markdown() {
  const TrainConfig defaults;
  std::string table = "| key | default | allowed | meaning |\n| --- | --- | --- | --- |\n";
  table += model_schema().markdown_rows(model_defaults());
  table += quantization_schema().markdown_rows(defaults.quantization);
  table += OptimizerConfig::schema().markdown_rows(defaults.optimizer);
  table += schedule_schema().markdown_rows(defaults.schedule);
  table += training_schema().markdown_rows(defaults.training);
  table += eval_schema().markdown_rows(defaults.eval);
  table += checkpoint_schema().markdown_rows(defaults.checkpoint);
  table += data_schema().markdown_rows(defaults.data);
  table += init_schema().markdown_rows(defaults.init);
  table += distillation_schema().markdown_rows(defaults.distillation);
  table += distributed_schema().markdown_rows(defaults.distributed);
  table += top_level_schema().markdown_rows(defaults);
  return table;
}

}  // namespace ternary
