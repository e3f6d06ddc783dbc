#include "train/train_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "quantizers/presets.h"
#include "quantizers/yaml_reader.h"
#include "train/config_overrides.h"

namespace ternary {
namespace {

// One `section:` map of the config: checks its keys, then reads each optional key into its field.
class Section {
 public:
  Section(const YamlReader& reader, const YAML::Node& root, const std::string& name, std::vector<std::string> keys)
      : reader_(reader), name_(name), node_(root[name]) {
    if (!node_) return;
    if (!node_.IsMap()) reader_.fail(node_, "'" + name + "' must be a map of keys");
    reader_.check_keys(node_, keys, name);
  }

  // The key's node, or an undefined (false) node when the section or key is absent.
  YAML::Node get(const char* key) const { return node_ ? node_[key] : YAML::Node(YAML::NodeType::Undefined); }
  // "file:line: section.key: message", at the key's line (or the section's when it is absent).
  [[noreturn]] void fail(const char* key, const std::string& message) const {
    fail_at(key, name_ + "." + key + ": " + message);
  }
  [[noreturn]] void fail_at(const char* key, const std::string& whole_message) const {
    const YAML::Node at = get(key);
    reader_.fail(at ? at : node_, whole_message);
  }

  void integer(const char* key, int64_t& field, int64_t min) const {
    if (const auto n = get(key)) field = reader_.scalar<int64_t>(n, key, "an integer");
    if (field < min) fail(key, "must be >= " + std::to_string(min) + ", got " + std::to_string(field));
  }
  void number(const char* key, double& field, double min, double max) const {
    if (const auto n = get(key)) field = reader_.scalar<double>(n, key, "a number");
    if (!(field >= min && field <= max)) {
      std::ostringstream range;
      range << "must be in [" << min << ", " << max << "], got " << field;
      fail(key, range.str());
    }
  }
  void text(const char* key, std::string& field) const {
    if (const auto n = get(key)) field = reader_.scalar<std::string>(n, key, "a string");
  }
  void flag(const char* key, bool& field) const {
    if (const auto n = get(key)) field = reader_.scalar<bool>(n, key, "true or false");
  }
  void one_of(const char* key, std::string& field, const std::vector<std::string>& options) const {
    text(key, field);
    if (std::find(options.begin(), options.end(), field) != options.end()) return;
    std::string names;
    for (const auto& o : options) names += (names.empty() ? "" : ", ") + o;
    fail(key, "unknown value '" + field + "' (expected one of: " + names + ")");
  }
  // `auto` (kept as 0) or an integer >= 1.
  void integer_or_auto(const char* key, int64_t& field) const {
    const auto n = get(key);
    if (n && n.IsScalar() && n.Scalar() == "auto") field = 0;
    else if (n) integer(key, field, 1);
  }

  const YAML::Node& node() const { return node_; }

 private:
  const YamlReader& reader_;
  std::string name_;
  YAML::Node node_;
};

const std::vector<std::string> kSections = {"model", "quantization", "optimizer", "schedule", "training", "eval",
                                            "checkpoint", "data", "init", "distillation", "seed", "threads",
                                            "device", "output_dir"};

void parse_model(const YamlReader& r, const YAML::Node& root, TrainConfig& c) {
  const Section s(r, root, "model", {"variant", "vocab_size", "dim", "n_layers", "n_heads", "n_kv_heads",
                                     "ffn_dim", "rope_theta", "norm_eps", "max_seq_len", "tie_embeddings"});
  LlamaConfig& m = c.model;
  m.vocab_size = 0;
  m.max_seq_len = 0;
  std::string variant = to_string(m.variant);
  s.one_of("variant", variant, {"llama", "bitnet"});
  m.variant = variant == "bitnet" ? LlamaVariant::kBitNet : LlamaVariant::kLlama;
  s.integer_or_auto("vocab_size", m.vocab_size);
  s.integer("dim", m.dim, 1);
  s.integer("n_layers", m.n_layers, 1);
  s.integer("n_heads", m.n_heads, 1);
  m.n_kv_heads = m.n_heads;
  s.integer("n_kv_heads", m.n_kv_heads, 1);
  s.integer("ffn_dim", m.ffn_dim, 1);
  s.number("rope_theta", m.rope_theta, 1e-9, 1e12);
  s.number("norm_eps", m.norm_eps, 1e-12, 1.0);
  s.integer_or_auto("max_seq_len", m.max_seq_len);
  s.flag("tie_embeddings", m.tie_embeddings);
  if (m.max_seq_len == 0) m.max_seq_len = c.training.seq_len;
  if (c.training.seq_len > m.max_seq_len)
    s.fail("max_seq_len", "is " + std::to_string(m.max_seq_len) + " but training.seq_len is " +
                              std::to_string(c.training.seq_len) + "; raise max_seq_len or lower seq_len");
  LlamaConfig check = m;
  if (check.vocab_size == 0) check.vocab_size = 1;
  try {
    check.validate();
  } catch (const std::invalid_argument& e) {
    // The message starts with the field it is about ("n_heads (6) must divide dim (256)").
    const std::string message = e.what();
    s.fail_at(message.substr(0, message.find(' ')).c_str(), "model." + message);
  }
}

void parse_quantization(const YamlReader& r, const YAML::Node& root, QuantizationConfig& q) {
  const Section s(r, root, "quantization", {"preset", "recipe", "rules", "warmup_steps"});
  s.integer("warmup_steps", q.warmup_steps, 0);
  const int given = !!s.get("preset") + !!s.get("recipe") + !!s.get("rules");
  if (given > 1) r.fail(s.node(), "quantization: give one of 'preset', 'recipe' (a file) or 'rules' (inline)");
  if (s.get("preset")) {
    s.text("preset", q.preset);
    if (q.preset != "none") {
      try {
        find_preset(q.preset);
      } catch (const std::invalid_argument& e) {
        s.fail("preset", std::string(e.what()) + " or none");
      }
    }
  }
  YAML::Node rules;
  std::string rules_source = r.source();  // inline rules: lines of the config file
  if (const auto inline_rules = s.get("rules")) {
    rules.reset(inline_rules);
  } else if (s.get("recipe")) {
    s.text("recipe", rules_source);
    std::ifstream in(rules_source);
    if (!in) s.fail("recipe", "cannot open recipe file '" + rules_source + "' (check the path)");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    rules.reset(YamlReader(rules_source).load(text));
  }
  if (s.get("rules") || s.get("recipe")) {
    if (rules.IsMap() && rules["rules"]) rules.reset(rules["rules"]);  // reset rebinds; = would overwrite
    Recipe::from_yaml_node(rules, rules_source);  // validates, errors name the rule's file and line
    q.rules_yaml = YAML::Dump(rules);
  }
}

void parse_schedule(const YamlReader& r, const YAML::Node& root, ScheduleConfig& c) {
  const Section s(r, root, "schedule", {"warmup_steps", "decay_steps", "min_lr_ratio"});
  s.integer("warmup_steps", c.warmup_steps, 0);
  s.integer("decay_steps", c.decay_steps, 0);
  s.number("min_lr_ratio", c.min_lr_ratio, 0.0, 1.0);
}

void parse_training(const YamlReader& r, const YAML::Node& root, TrainingConfig& c) {
  const Section s(r, root, "training", {"steps", "batch_size", "seq_len", "grad_accum", "grad_clip", "autocast"});
  s.integer("steps", c.steps, 1);
  s.integer("batch_size", c.batch_size, 1);
  s.integer("seq_len", c.seq_len, 1);
  s.integer("grad_accum", c.grad_accum, 1);
  s.number("grad_clip", c.grad_clip, 0.0, 1e30);
  s.one_of("autocast", c.autocast, {"none", "bf16"});
}

void parse_eval(const YamlReader& r, const YAML::Node& root, EvalConfig& c) {
  const Section s(r, root, "eval", {"every", "batches", "log_every", "sample_tokens", "sample_prompt",
                                    "temperature", "top_k"});
  s.integer("every", c.every, 0);
  s.integer("batches", c.batches, 1);
  s.integer("log_every", c.log_every, 1);
  s.integer("sample_tokens", c.sample_tokens, 0);
  s.text("sample_prompt", c.sample_prompt);
  s.number("temperature", c.temperature, 0.0, 100.0);
  s.integer("top_k", c.top_k, 0);
}

void parse_checkpoint(const YamlReader& r, const YAML::Node& root, CheckpointConfig& c) {
  const Section s(r, root, "checkpoint", {"every", "keep_last", "keep_best"});
  s.integer("every", c.every, 0);
  s.integer("keep_last", c.keep_last, 1);
  s.flag("keep_best", c.keep_best);
}

void parse_data(const YamlReader& r, const YAML::Node& root, DataConfig& c) {
  const Section s(r, root, "data", {"text_files", "tokenized", "tokenizer", "tokenizer_model", "cache",
                                    "val_fraction"});
  if (const auto files = s.get("text_files")) {
    c.text_files.clear();
    if (files.IsScalar()) c.text_files.push_back(r.scalar<std::string>(files, "text_files", "a path"));
    else if (files.IsSequence())
      for (const auto& f : files) c.text_files.push_back(r.scalar<std::string>(f, "text_files", "a path"));
    else s.fail("text_files", "must be a path or a list of paths");
  }
  s.text("tokenized", c.tokenized);
  if (c.text_files.empty() && c.tokenized.empty()) s.fail("text_files", "give at least one text file, or 'tokenized'");
  s.one_of("tokenizer", c.tokenizer, {"bytes", "sentencepiece"});
  s.text("tokenizer_model", c.tokenizer_model);
  if (c.tokenizer == "sentencepiece" && c.tokenizer_model.empty())
    s.fail("tokenizer", "sentencepiece needs data.tokenizer_model: path/to/tokenizer.model");
  s.text("cache", c.cache);
  s.number("val_fraction", c.val_fraction, 1e-6, 0.5);
}

void parse_init(const YamlReader& r, const YAML::Node& root, InitConfig& c) {
  const Section s(r, root, "init", {"from", "path"});
  s.one_of("from", c.from, {"scratch", "checkpoint", "hf"});
  s.text("path", c.path);
  if (c.from != "scratch" && c.path.empty()) s.fail("path", "init.from: " + c.from + " needs init.path: DIR");
}

void parse_distillation(const YamlReader& r, const YAML::Node& root, DistillationConfig& c) {
  const Section s(r, root, "distillation", {"teacher", "teacher_from", "weight", "temperature"});
  s.text("teacher", c.teacher);
  s.one_of("teacher_from", c.teacher_from, {"checkpoint", "hf"});
  s.number("weight", c.weight, 0.0, 1.0);
  s.number("temperature", c.temperature, 1e-3, 100.0);
}

void parse_top_level(const YamlReader& r, const YAML::Node& root, TrainConfig& c) {
  auto read = [&](const char* key, auto& field, const char* type) {
    if (const auto n = root[key]) field = r.scalar<std::decay_t<decltype(field)>>(n, key, type);
  };
  read("seed", c.seed, "an integer");
  read("threads", c.threads, "an integer");
  if (c.threads < 0) r.fail(root["threads"], "'threads' must be >= 0 (0 = LibTorch's default)");
  read("device", c.device, "a string");
  if (c.device != "cpu" && c.device != "cuda")
    r.fail(root["device"], "unknown device '" + c.device + "' (expected cpu or cuda)");
  read("output_dir", c.output_dir, "a path");
  if (c.output_dir.empty()) r.fail(root["output_dir"], "'output_dir' must not be empty");
}

}  // namespace

Recipe QuantizationConfig::recipe() const {
  if (!rules_yaml.empty()) return Recipe::from_yaml_node(YAML::Load(rules_yaml), "quantization.rules");
  if (preset == "none") return Recipe{};
  return Recipe::from_preset(preset);
}

TrainConfig TrainConfig::parse(const std::string& yaml_text, const std::string& source,
                               const std::vector<std::string>& overrides) {
  const YamlReader reader(source);
  YAML::Node root = reader.load(yaml_text);
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) reader.fail(root, "a training config must be a map of sections (model:, optimizer:, ...)");
  for (const auto& assignment : overrides) apply_override(root, assignment);
  reader.check_keys(root, kSections, "the training config");

  TrainConfig c;
  parse_training(reader, root, c.training);  // before model: max_seq_len defaults to seq_len
  parse_model(reader, root, c);
  parse_quantization(reader, root, c.quantization);
  if (const auto opt = root["optimizer"]) c.optimizer = OptimizerConfig::from_yaml(opt, reader);
  parse_schedule(reader, root, c.schedule);
  parse_eval(reader, root, c.eval);
  parse_checkpoint(reader, root, c.checkpoint);
  parse_data(reader, root, c.data);
  parse_init(reader, root, c.init);
  parse_distillation(reader, root, c.distillation);
  parse_top_level(reader, root, c);
  return c;
}

TrainConfig TrainConfig::from_file(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) throw RecipeError(path + ": cannot open the config file (check the path)");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse(text, path, overrides);
}

std::string TrainConfig::to_yaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  auto section = [&](const char* name) { out << YAML::Key << name << YAML::Value << YAML::BeginMap; };
  auto end = [&] { out << YAML::EndMap; };
  auto kv = [&](const char* key, const auto& value) {
    out << YAML::Key << key << YAML::Value;
    if constexpr (std::is_floating_point_v<std::decay_t<decltype(value)>>) out << yaml_number(value);
    else out << value;
  };

  section("model");
  kv("variant", to_string(model.variant));
  if (model.vocab_size == 0) kv("vocab_size", "auto");
  else kv("vocab_size", model.vocab_size);
  kv("dim", model.dim), kv("n_layers", model.n_layers), kv("n_heads", model.n_heads);
  kv("n_kv_heads", model.n_kv_heads), kv("ffn_dim", model.ffn_dim), kv("rope_theta", model.rope_theta);
  kv("norm_eps", model.norm_eps), kv("max_seq_len", model.max_seq_len), kv("tie_embeddings", model.tie_embeddings);
  end();
  section("quantization");
  if (quantization.rules_yaml.empty()) kv("preset", quantization.preset);
  else kv("rules", YAML::Load(quantization.rules_yaml));
  kv("warmup_steps", quantization.warmup_steps);
  end();
  section("optimizer");
  optimizer.to_yaml(out);
  end();
  section("schedule");
  kv("warmup_steps", schedule.warmup_steps), kv("decay_steps", schedule.decay_steps);
  kv("min_lr_ratio", schedule.min_lr_ratio);
  end();
  section("training");
  kv("steps", training.steps), kv("batch_size", training.batch_size), kv("seq_len", training.seq_len);
  kv("grad_accum", training.grad_accum), kv("grad_clip", training.grad_clip), kv("autocast", training.autocast);
  end();
  section("eval");
  kv("every", eval.every), kv("batches", eval.batches), kv("log_every", eval.log_every);
  kv("sample_tokens", eval.sample_tokens);
  out << YAML::Key << "sample_prompt" << YAML::Value << YAML::DoubleQuoted << eval.sample_prompt;
  kv("temperature", eval.temperature), kv("top_k", eval.top_k);
  end();
  section("checkpoint");
  kv("every", checkpoint.every), kv("keep_last", checkpoint.keep_last), kv("keep_best", checkpoint.keep_best);
  end();
  section("data");
  out << YAML::Key << "text_files" << YAML::Value << YAML::Flow << data.text_files;
  kv("tokenized", data.tokenized), kv("tokenizer", data.tokenizer), kv("tokenizer_model", data.tokenizer_model);
  kv("cache", data.cache), kv("val_fraction", data.val_fraction);
  end();
  section("init");
  kv("from", init.from), kv("path", init.path);
  end();
  section("distillation");
  kv("teacher", distillation.teacher), kv("teacher_from", distillation.teacher_from);
  kv("weight", distillation.weight), kv("temperature", distillation.temperature);
  end();
  kv("seed", seed), kv("threads", threads), kv("device", device), kv("output_dir", output_dir);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace ternary
