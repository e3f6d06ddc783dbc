#include "train/train_config.h"

#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "train/lr_schedule.h"

namespace ternary {
namespace {

std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    TrainConfig::parse(yaml, "run.yaml", overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(TrainConfig, DefaultsFileThenOverrides) {
  const std::string yaml =
      "model:\n  dim: 64\n  n_heads: 4\noptimizer: {name: adamw8bit, lr: 1.0e-3}\ntraining: {steps: 10}\n";
  const TrainConfig c = TrainConfig::parse(yaml, "run.yaml", {"optimizer.lr=3e-4", "model.variant=bitnet",
                                                               "optimizer.betas=[0.8, 0.9]", "eval.top_k=5"});
  EXPECT_EQ(c.model.dim, 64);                   // file
  EXPECT_EQ(c.model.n_layers, 4);               // default
  EXPECT_EQ(c.model.n_kv_heads, 4);             // defaults to n_heads
  EXPECT_EQ(c.model.vocab_size, 0);             // auto
  EXPECT_EQ(c.model.max_seq_len, 64);           // auto = training.seq_len
  EXPECT_EQ(c.model.variant, LlamaVariant::kBitNet);  // --set
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 3e-4);       // --set beats the file
  EXPECT_DOUBLE_EQ(c.optimizer.beta1, 0.8);
  EXPECT_EQ(c.eval.top_k, 5);
  EXPECT_EQ(c.training.steps, 10);
  EXPECT_EQ(c.quantization.preset, "bitnet_b158");
  EXPECT_EQ(c.output_dir, "runs/llama_qat");
}

// Every key at a value other than its default, so a key lost anywhere between parse and dump shows.
constexpr const char* kEveryKeyChanged = R"(
model: {variant: bitnet, vocab_size: 300, dim: 96, n_layers: 3, n_heads: 6, n_kv_heads: 2, ffn_dim: 200,
        rope_theta: 5.0e5, norm_eps: 1.0e-6, max_seq_len: 80, tie_embeddings: true}
quantization:
  rules:
    - {match: lm_head, preset: none}
    - {match: '*', preset: twn}
  warmup_steps: 50
optimizer: {name: adam8bit, lr: 3.0e-4, betas: [0.8, 0.95], eps: 1.0e-6, weight_decay: 0.05, min_8bit_size: 1024,
            shard_state: true}
schedule: {warmup_steps: 7, decay_steps: 900, min_lr_ratio: 0.25}
training: {steps: 1000, batch_size: 3, seq_len: 40, grad_accum: 2, grad_clip: 0.5, autocast: bf16, on_nonfinite: stop,
           max_nonfinite_steps: 4, tensorboard: true, activation_checkpointing: true, master_weights: bf16}
eval: {every: 11, batches: 4, log_every: 9, sample_tokens: 17, sample_prompt: "\nKING:", temperature: 0.5, top_k: 5}
checkpoint: {every: 13, keep_last: 3, keep_best: false}
data: {text_files: [a.txt, b.txt], tokenized: t.bin, tokenizer: sentencepiece, tokenizer_model: sp.model,
       cache: c.bin, val_fraction: 0.2}
init: {from: checkpoint, path: some/dir, calibrate: awq+gptq, calibration_sequences: 16, calibration_statistics: s/dir,
       gptq_damp: 0.05, gptq_block_size: 64, awq_grid: 8}
distillation: {teacher: t/dir, teacher_from: hf, weight: 0.3, temperature: 3.0}
distributed: {timeout_seconds: 30, bucket_mb: 4}
seed: 7
threads: 1
device: cuda
output_dir: runs/x
)";

TEST(TrainConfig, DumpParsesBackToTheSameValues) {
  const TrainConfig c = TrainConfig::parse(kEveryKeyChanged, "run.yaml");
  const TrainConfig defaults;
  // Each section really differs from the defaults (else the comparisons below prove little).
  EXPECT_NE(c.model, TrainConfig::parse("", "d.yaml").model);
  EXPECT_NE(c.quantization, defaults.quantization);
  EXPECT_NE(c.optimizer, defaults.optimizer);
  EXPECT_NE(c.schedule, defaults.schedule);
  EXPECT_NE(c.training, defaults.training);
  EXPECT_NE(c.eval, defaults.eval);
  EXPECT_NE(c.checkpoint, defaults.checkpoint);
  EXPECT_NE(c.data, defaults.data);
  EXPECT_NE(c.init, defaults.init);
  EXPECT_NE(c.distillation, defaults.distillation);
  EXPECT_NE(c.distributed, defaults.distributed);
  const TrainConfig again = TrainConfig::parse(c.to_yaml(), "dumped.yaml");
  EXPECT_TRUE(again == c) << c.to_yaml() << "\n---\n" << again.to_yaml();  // every field, by value
  EXPECT_EQ(again.eval.sample_prompt, "\nKING:");
  EXPECT_EQ(again.data.text_files, (std::vector<std::string>{"a.txt", "b.txt"}));
  EXPECT_DOUBLE_EQ(again.optimizer.beta1, 0.8);
  const Recipe recipe = again.quantization.recipe();
  ASSERT_EQ(recipe.rules.size(), 2u);
  EXPECT_TRUE(recipe.match("lm_head")->keep_full_precision);
  EXPECT_FALSE(recipe.match("layers.0.mlp.up_proj")->keep_full_precision);
  // A default config round-trips too (vocab_size auto, empty strings).
  const TrainConfig plain = TrainConfig::parse("", "empty.yaml");
  EXPECT_TRUE(TrainConfig::parse(plain.to_yaml(), "d.yaml") == plain);
  // Every optimizer's own keys survive (lion has no eps, sgd8bit has momentum).
  for (const char* optimizer : {"lion8bit", "sgd8bit", "sgd", "adamw"}) {
    const TrainConfig o = TrainConfig::parse(std::string("optimizer: {name: ") + optimizer + ", lr: 0.02}", "o.yaml");
    EXPECT_TRUE(TrainConfig::parse(o.to_yaml(), "o2.yaml") == o) << optimizer;
  }
}

// A resume reads the config back from the checkpoint's dump: a key missing from the dump would
// silently fall back to its default. Dropping any one dumped key must change the config.
TEST(TrainConfig, EveryDumpedKeyCarriesItsValue) {
  const TrainConfig c = TrainConfig::parse(kEveryKeyChanged, "run.yaml");
  const YAML::Node dumped = YAML::Load(c.to_yaml());
  int keys = 0;
  for (const auto& entry : dumped) {
    const std::string section = entry.first.as<std::string>();
    std::vector<std::string> names;
    if (entry.second.IsMap())
      for (const auto& key : entry.second) names.push_back(key.first.as<std::string>());
    else names.push_back("");
    for (const std::string& name : names) {
      // They cannot be set with shard_state; StepInBackwardKeysCarryTheirValues covers them.
      if (section + "." + name == "optimizer.step_in_backward" || section + "." + name == "training.grad_clip_scope")
        continue;
      YAML::Node copy = YAML::Clone(dumped);
      if (name.empty()) copy.remove(section);
      else copy[section].remove(name);
      const std::string what = name.empty() ? section : section + "." + name;
      bool changed = false;
      try {
        changed = !(TrainConfig::parse(YAML::Dump(copy), "dropped.yaml") == c);
      } catch (const ConfigError&) {
        changed = true;  // required by another key: dropping it is an error, not a silent default
      }
      EXPECT_TRUE(changed) << "dropping " << what << " from the dump leaves the same config";
      ++keys;
    }
  }
  EXPECT_GE(keys, 50);
}

// The keys that cannot go with kEveryKeyChanged's (shard_state, grad_accum 2, global clipping)
// carry their values through a dump too.
TEST(TrainConfig, StepInBackwardKeysCarryTheirValues) {
  const TrainConfig c = TrainConfig::parse(
      "optimizer: {step_in_backward: true}\ntraining: {grad_clip_scope: parameter}\n", "run.yaml");
  EXPECT_TRUE(c.optimizer.step_in_backward);
  EXPECT_EQ(c.training.grad_clip_scope, GradClipScope::kParameter);
  const TrainConfig again = TrainConfig::parse(c.to_yaml(), "dumped.yaml");
  EXPECT_TRUE(again == c);
  YAML::Node dumped = YAML::Load(c.to_yaml());
  YAML::Node without_scope = YAML::Clone(dumped);
  dumped["optimizer"].remove("step_in_backward");
  EXPECT_FALSE(TrainConfig::parse(YAML::Dump(dumped), "dropped.yaml") == c);
  without_scope["training"].remove("grad_clip_scope");  // global clipping: an error with step_in_backward
  EXPECT_THROW(TrainConfig::parse(YAML::Dump(without_scope), "dropped.yaml"), ConfigError);
}

// docs/training.md carries the key table that the schema generates (ternary-train --config-keys).
TEST(TrainConfig, TheDocsListEveryKey) {
  std::ifstream in(std::string(TERNARY_SOURCE_DIR) + "/docs/training.md");
  ASSERT_TRUE(in);
  const std::string docs((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string table = TrainConfig::keys_markdown();
  EXPECT_NE(docs.find(table), std::string::npos)
      << "docs/training.md's key table is stale; replace it with the output of ternary-train --config-keys:\n"
      << table;
}

// Found by the config fuzzer: text that a dump and parse give back changed, so a resumed run would
// have had another config: bytes that are not UTF-8, overlong forms, surrogates, code points past
// U+10FFFF, noncharacters (in the file or spelled by escapes), and a NUL that yaml-cpp misreads.
TEST(TrainConfig, TextMustSurviveADumpAndParse) {
  const std::string utf8 = " is not UTF-8 text; save it as UTF-8";
  EXPECT_EQ(error_of("eval: {sample_prompt: \"ab\xee\xee" "cd\"}\n"), "run.yaml: byte 25 (0xEE)" + utf8);
  for (const char* bad : {"\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf",  // overlong '/'
                          "\xed\xa0\x80",                                  // a surrogate
                          "\xf4\x90\x80\x80", "\xf6\x8c\x9c\x97"})             // past U+10FFFF
    EXPECT_EQ(error_of("eval: {sample_prompt: \"ab" + std::string(bad) + "\\n#\"}\n"),
              "run.yaml: byte 25 (0x" + (std::stringstream() << std::uppercase << std::hex << (int)(uint8_t)bad[0]).str() +
                  ")" + utf8)
        << bad;
  const std::string nonchar = " is a Unicode noncharacter, which YAML tools do not keep; remove it";
  EXPECT_EQ(error_of("eval: {sample_prompt: \"ab\xef\xbf\xbe\"}\n"), "run.yaml: byte 25 (U+FFFE)" + nonchar);
  EXPECT_EQ(error_of("eval: {sample_prompt: \"ab\xef\xb7\x90\"}\n"), "run.yaml: byte 25 (U+FDD0)" + nonchar);
  EXPECT_EQ(error_of("eval: {sample_prompt: \"ab\xf4\x8f\xbf\xbf\"}\n"), "run.yaml: byte 25 (U+10FFFF)" + nonchar);
  EXPECT_EQ(error_of("eval: {sample_prompt: \"ab\\uFFFE\"}\n"), "run.yaml:1: 'sample_prompt': byte 2 (U+FFFE)" + nonchar);
  EXPECT_EQ(error_of(std::string("output_dir: a\0N\n", 16)),
            "run.yaml: byte 13 (U+0000) is a NUL character; remove it, or write it as \\x00 in double quotes");
  EXPECT_EQ(error_of("", {"eval.sample_prompt=\xff"}),
            "--set eval.sample_prompt=\xff: byte 19 (0xFF) is not UTF-8 text; save it as UTF-8");
  // Everything else round-trips: the first and last printable code points of each encoded length,
  // and controls written as escapes.
  const TrainConfig c = TrainConfig::parse(
      "eval: {sample_prompt: \"Z\xc3\xbcrich \xe2\x98\x83 \xc2\xa0\xdf\xbf\xe0\xa0\x80\xef\xbf\xbd"
      "\xf0\x90\x80\x80\xf4\x8f\xbf\xbd\\n#: \\x00\\x85\\x7f\\t\"}\n",
      "run.yaml");
  EXPECT_TRUE(TrainConfig::parse(c.to_yaml(), "dumped.yaml") == c);
  EXPECT_EQ(c.eval.sample_prompt.size(), 39u);
}

TEST(TrainConfig, NonFiniteNumbersAreRejected) {
  EXPECT_EQ(error_of("optimizer: {lr: .nan}\n"), "run.yaml:1: optimizer.lr: must be a finite number, got .nan");
  EXPECT_EQ(error_of("optimizer: {betas: [.inf, 0.9]}\n"),
            "run.yaml:1: optimizer.betas: must be a finite number, got .inf");
  EXPECT_EQ(error_of("training: {grad_clip: -.inf}\n"),
            "run.yaml:1: training.grad_clip: must be a finite number, got -.inf");
  EXPECT_EQ(error_of("", {"optimizer.weight_decay=.NaN"}),
            "run.yaml (--set): optimizer.weight_decay: must be a finite number, got .NaN");
}

TEST(TrainConfig, PresetNoneIsFullPrecisionAndRecipeFilesLoad) {
  EXPECT_TRUE(TrainConfig::parse("quantization: {preset: none}", "r.yaml").quantization.recipe().rules.empty());
  const TrainConfig c = TrainConfig::parse(
      std::string("quantization: {recipe: ") + TERNARY_SOURCE_DIR + "/configs/recipes/bitnet_b158.yaml}", "r.yaml");
  EXPECT_EQ(c.quantization.recipe().rules.size(), 2u);
}

TEST(TrainConfig, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(error_of("model:\n  dim: 64\n  dimm: 3\n"),
            "run.yaml:3: unknown key 'dimm' in model (expected one of: variant, vocab_size, dim, n_layers, n_heads, "
            "n_kv_heads, ffn_dim, rope_theta, norm_eps, max_seq_len, tie_embeddings)");
  EXPECT_EQ(error_of("trainng: {steps: 3}\n").rfind("run.yaml:1: unknown key 'trainng' in the training config", 0), 0u);
  EXPECT_EQ(error_of("training:\n  steps: many\n"), "run.yaml:2: 'steps' must be an integer, got 'many'");
  EXPECT_EQ(error_of("training:\n  batch_size: 0\n"), "run.yaml:2: training.batch_size: must be >= 1, got 0");
  EXPECT_EQ(error_of("model:\n  dim: 100\n  n_heads: 3\n"), "run.yaml:3: model.n_heads (3) must divide dim (100)");
  EXPECT_EQ(error_of("model:\n  n_heads: 4\n  n_kv_heads: 3\n"),
            "run.yaml:3: model.n_kv_heads (3) must divide n_heads (4)");
  EXPECT_EQ(error_of("model: {max_seq_len: 32}\ntraining: {seq_len: 64}\n"),
            "run.yaml:1: model.max_seq_len: is 32 but training.seq_len is 64; raise max_seq_len or lower seq_len");
  EXPECT_EQ(error_of("model: {variant: gpt2}\n"),
            "run.yaml:1: model.variant: unknown value 'gpt2' (expected one of: llama, bitnet)");
  EXPECT_EQ(error_of("quantization: {preset: ternary}\n").rfind("run.yaml:1: quantization.preset: unknown quantizer "
                                                                "preset 'ternary'", 0), 0u);
  EXPECT_EQ(error_of("quantization: {preset: twn, rules: []}\n"),
            "run.yaml:1: quantization: give one of 'preset', 'recipe' (a file) or 'rules' (inline)");
  EXPECT_EQ(error_of("quantization:\n  rules:\n    - {match: '*', preset: tern}\n").rfind("run.yaml:3:", 0), 0u);
  EXPECT_EQ(error_of("optimizer: {name: lion8bit, eps: 1}\n").rfind("run.yaml:1: unknown key 'eps' in optimizer", 0),
            0u);
  EXPECT_EQ(error_of("init: {from: hf}\n"), "run.yaml:1: init.path: init.from: hf needs init.path: DIR");
  EXPECT_EQ(error_of("data: {tokenizer: sentencepiece}\n"),
            "run.yaml:1: data.tokenizer: sentencepiece needs data.tokenizer_model: path/to/tokenizer.model");
  EXPECT_EQ(error_of("device: tpu\n"), "run.yaml:1: device: unknown value 'tpu' (expected one of: cpu, cuda)");
  EXPECT_EQ(error_of("threads: 100000\n").rfind("run.yaml:1: threads: must be at most ", 0), 0u);
  EXPECT_EQ(error_of("training: {autocast: fp16}\n"),
            "run.yaml:1: training.autocast: unknown value 'fp16' (expected one of: none, bf16)");
  EXPECT_EQ(error_of("model: [1, 2]\n"), "run.yaml:1: 'model' must be a map of keys");
  // Keys of different sections that do not go together.
  EXPECT_EQ(error_of("optimizer: {step_in_backward: true}\n"),
            "run.yaml:1: optimizer.step_in_backward: global-norm clipping (training.grad_clip) needs every gradient "
            "at once, and with step_in_backward no two exist together; set training.grad_clip_scope: parameter, or "
            "training.grad_clip: 0");
  EXPECT_EQ(error_of("optimizer: {step_in_backward: true}\ntraining: {grad_clip: 0, grad_accum: 4}\n"),
            "run.yaml:1: optimizer.step_in_backward: training.grad_accum 4 needs every gradient at once, and with "
            "step_in_backward no two exist together; set training.grad_accum: 1 (raise batch_size instead)");
  EXPECT_EQ(error_of("optimizer: {step_in_backward: true, shard_state: true}\ntraining: {grad_clip: 0}\n"),
            "run.yaml:1: optimizer.step_in_backward: does not combine with shard_state (sharded gradients are reduced "
            "after backward); use one of the two");
  EXPECT_EQ(error_of("optimizer: {name: adamw, step_in_backward: true}\n")
                .rfind("run.yaml:1: unknown key 'step_in_backward' in optimizer 'adamw'", 0),
            0u);
  EXPECT_EQ(error_of("training: {master_weights: bf16}\n"),
            "run.yaml:1: training.master_weights: bf16 master weights need training.autocast: bf16 (the forward must "
            "run in bf16); set it");
  EXPECT_EQ(error_of("optimizer: {name: adamw}\ntraining: {master_weights: bf16, autocast: bf16}\n"),
            "run.yaml:2: training.master_weights: bf16 needs an 8-bit optimizer, which rounds updates "
            "stochastically; optimizer 'adamw' would lose small updates to rounding");
  EXPECT_EQ(error_of("training: {master_weights: fp16}\n"),
            "run.yaml:1: training.master_weights: unknown value 'fp16' (expected one of: fp32, bf16)");
  EXPECT_EQ(error_of("model: {dim: 64\n").rfind("run.yaml:", 0), 0u);  // YAML syntax error with a line
  EXPECT_EQ(error_of("", {}), "");
}

TEST(TrainConfig, OverrideErrorsNameTheOverride) {
  EXPECT_EQ(error_of("", {"model.dim=wide"}), "run.yaml (--set): 'dim' must be an integer, got 'wide'");
  EXPECT_EQ(error_of("", {"model.dimm=3"}).rfind("run.yaml (--set): unknown key 'dimm' in model", 0), 0u);
  EXPECT_EQ(error_of("", {"optimizer.lr"}), "--set optimizer.lr: expected section.key=value, e.g. --set optimizer.lr=3e-4");
  EXPECT_EQ(error_of("", {"optimizer.lr="}), "--set optimizer.lr=: missing value after '='");
  EXPECT_EQ(error_of("", {".lr=3"}).rfind("--set .lr=3: expected", 0), 0u);
  EXPECT_EQ(error_of("", {"model.dim=[1"}).rfind("--set model.dim=[1: the value is not valid YAML", 0), 0u);
  // An override that makes shapes impossible is caught like the file's.
  EXPECT_EQ(error_of("model: {dim: 64}\n", {"model.n_heads=5"}), "run.yaml (--set): model.n_heads (5) must divide dim (64)");
}

TEST(TrainConfig, MissingFileIsAClearError) {
  try {
    TrainConfig::from_file("/nonexistent/run.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/run.yaml: cannot open the config file (check the path)");
  }
}

TEST(LrSchedule, WarmupThenCosineToTheFloor) {
  ScheduleConfig s;
  s.warmup_steps = 10;
  s.min_lr_ratio = 0.1;
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 1.0, 0, 110), 0.1);
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 1.0, 9, 110), 1.0);
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 1.0, 10, 110), 1.0);
  EXPECT_NEAR(scheduled_lr(s, 1.0, 60, 110), 0.55, 1e-12);  // half way: floor + (1 - floor) / 2
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 1.0, 110, 110), 0.1);
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 1.0, 500, 110), 0.1);
  for (int64_t step = 11; step < 110; ++step)
    EXPECT_LE(scheduled_lr(s, 1.0, step, 110), scheduled_lr(s, 1.0, step - 1, 110));
  s.decay_steps = 60;  // decay ends early
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 1.0, 60, 110), 0.1);
  s.warmup_steps = 0;
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 2.0, 0, 110), 2.0);
}

TEST(LrSchedule, QuantLambdaRampsToOne) {
  EXPECT_DOUBLE_EQ(scheduled_quant_lambda(0, 0), 1.0);
  EXPECT_DOUBLE_EQ(scheduled_quant_lambda(4, 0), 0.25);
  EXPECT_DOUBLE_EQ(scheduled_quant_lambda(4, 3), 1.0);
  EXPECT_DOUBLE_EQ(scheduled_quant_lambda(4, 100), 1.0);
}

}  // namespace ternary

namespace ternary {

// Every config the project ships parses, and its model matches the parameter count its comment
// states (the real-shape configs: 135M, 1.1B, 3B).
TEST(TrainConfig, ShippedConfigsParseWithTheirStatedSizes) {
  const std::map<std::string, int64_t> stated = {
      {"llama_135m.yaml", 134515008}, {"llama_1.1b.yaml", 1100048384}, {"llama_3b.yaml", 3212749824}};
  int parsed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(TERNARY_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".yaml") continue;
    const TrainConfig c = TrainConfig::from_file(entry.path().string());
    ++parsed;
    if (const auto it = stated.find(entry.path().filename().string()); it != stated.end())
      EXPECT_EQ(c.model.parameter_count(), it->second) << entry.path();
  }
  EXPECT_GE(parsed, 5);
}

}  // namespace ternary
