// ternary-export -> ternary-run, against the training model: the inference contract, golden data
// from the `gguf` Python package (an independent reader), and the export errors.
#include "export/gguf_export.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include "kernels/q8_0_blocks.h"
#include "kernels/ternary_blocks.h"
#include "runtime/gguf_file.h"
#include "runtime/gguf_tokenizer.h"
#include "runtime/llama_runtime.h"
#include "runtime/perplexity.h"
#include "train/checkpoint.h"
#include "train/sampling.h"
#include "train/trainer.h"

namespace ternary {
namespace {
namespace fs = std::filesystem;

std::string work_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/gguf_export_test/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A trainer for `yaml` on the bundled corpus, writing into `dir`.
std::unique_ptr<Trainer> shakespeare_trainer(const std::string& yaml, const std::string& name, const std::string& dir) {
  return std::make_unique<Trainer>(
      TrainConfig::parse(yaml, name,
                         {"output_dir=" + dir, std::string("data.text_files=") + TERNARY_SOURCE_DIR +
                                                   "/data/tinyshakespeare.txt",
                          "data.cache=" + dir + "/tokens.bin"}),
      "", nullptr);
}

// A small exportable model (inputs multiples of 256), trained enough to have peaked predictions.
struct TrainedModel {
  std::unique_ptr<Trainer> trainer;
  std::string checkpoint, gguf;
  std::vector<int32_t> val_tokens;  // the trainer's eval windows, concatenated
};

TrainedModel& trained_model() {
  static TrainedModel m = [] {
    TrainedModel t;
    const std::string dir = work_dir("trained");
    const std::string yaml = R"(
model: {dim: 256, n_layers: 2, n_heads: 4, n_kv_heads: 2, ffn_dim: 512, max_seq_len: 128}
training: {steps: 150, batch_size: 8, seq_len: 64}
optimizer: {name: adamw8bit, lr: 3.0e-3, min_8bit_size: 1024}
schedule: {warmup_steps: 10}
eval: {every: 0, batches: 6, sample_tokens: 0}
checkpoint: {every: 0}
)";
    t.trainer = shakespeare_trainer(yaml, "contract.yaml", dir);
    t.checkpoint = t.trainer->run().checkpoint;
    t.gguf = dir + "/model.gguf";
    export_gguf(t.checkpoint, t.gguf, {});
    const TokenDataset data = TokenDataset::open(dir + "/tokens.bin");
    for (const auto& [inputs, targets] : data.val_batches(8, 64, 6))
      for (int64_t r = 0; r < inputs.size(0); ++r)
        for (int64_t c = 0; c < 64; ++c) t.val_tokens.push_back(static_cast<int32_t>(inputs[r][c].item<int64_t>()));
    t.val_tokens.push_back(static_cast<int32_t>(
        data.val_batches(8, 64, 6).back().second.index({-1, -1}).item<int64_t>()));
    return t;
  }();
  return m;
}

at::Tensor training_logits(LlamaModel& model, const std::vector<int32_t>& tokens) {
  at::NoGradGuard no_grad;
  model->eval();
  const at::Tensor ids = at::tensor(std::vector<int64_t>(tokens.begin(), tokens.end()), at::kLong).unsqueeze(0);
  at::Tensor logits = model->forward(ids).squeeze(0).contiguous();
  model->train();
  return logits;
}

double max_abs_diff(const at::Tensor& expected, const std::vector<float>& actual) {
  const at::Tensor a = at::from_blob(const_cast<float*>(actual.data()), expected.sizes(), at::kFloat);
  return (a - expected).abs().max().item<double>();
}

}  // namespace

// The contract: runtime logits = the training model's fake-quantized forward, to float tolerance.
TEST(InferenceContract, RuntimeLogitsMatchTheTrainingForward) {
  TrainedModel& m = trained_model();
  runtime::LlamaRuntime rt(m.gguf);
  const std::vector<int32_t> tokens(m.val_tokens.begin(), m.val_tokens.begin() + 128);
  const at::Tensor expected = training_logits(m.trainer->model(), tokens);
  const double diff = max_abs_diff(expected, rt.forward(tokens, /*all_logits=*/true));
  std::printf("[ contract ] max |logit diff| over 128 positions: %.3g (logit range %.2f)\n", diff,
              (expected.max() - expected.min()).item<double>());
  EXPECT_LT(diff, 1e-2);  // measured 2e-3 on logits spanning ~17: float summation order only
  // Token-by-token through the KV cache gives the same last logits as the whole prompt at once.
  rt.reset();
  std::vector<float> last;
  for (size_t i = 0; i < 40; ++i) last = rt.forward({tokens[i]});
  const at::Tensor expected40 = training_logits(m.trainer->model(), {tokens.begin(), tokens.begin() + 40});
  EXPECT_LT(max_abs_diff(expected40[39], last), 1e-2);
}

TEST(InferenceContract, GreedyDecodingOf64TokensIsIdentical) {
  TrainedModel& m = trained_model();
  const std::vector<int32_t> prompt(m.val_tokens.begin() + 300, m.val_tokens.begin() + 308);
  at::Generator unused = at::make_generator<at::CPUGeneratorImpl>(0);
  const std::vector<int32_t> trained = generate(m.trainer->model(), prompt, {64, 0.0, 0}, unused);
  runtime::LlamaRuntime rt(m.gguf);
  std::vector<int32_t> ran = prompt;
  std::vector<float> logits = rt.forward(prompt);
  for (int i = 0; i < 64; ++i) {
    const int32_t next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    ran.push_back(next);
    logits = rt.forward({next});
  }
  EXPECT_EQ(ran, trained);
}

// --output-type f16 | q8_0 rounds the full-precision matrices (embedding, output): the contract
// then holds within a stated tolerance (docs/export_runtime.md), measured here.
TEST(InferenceContract, F16AndQ8_0MatricesRunWithinTheirStatedTolerance) {
  TrainedModel& m = trained_model();
  const std::vector<int32_t> tokens(m.val_tokens.begin(), m.val_tokens.begin() + 128);
  const at::Tensor expected = training_logits(m.trainer->model(), tokens);
  const std::vector<int32_t> prompt(m.val_tokens.begin() + 300, m.val_tokens.begin() + 308);
  at::Generator unused = at::make_generator<at::CPUGeneratorImpl>(0);
  const std::vector<int32_t> trained = generate(m.trainer->model(), prompt, {64, 0.0, 0}, unused);
  const double trainer_loss = m.trainer->evaluate();
  struct Case {
    gguf::TensorType type;
    double max_logit_diff, max_nll_ratio;
    int min_equal_greedy_tokens;
  };
  for (const Case& c : {Case{gguf::TensorType::kF16, 0.05, 1e-3, 72}, Case{gguf::TensorType::kQ8_0, 0.1, 2e-3, 64}}) {
    const std::string path = work_dir("output_type") + "/" + gguf::to_string(c.type) + ".gguf";
    export_gguf(m.checkpoint, path, {gguf::TensorType::kTQ2_0, c.type, ""});
    runtime::LlamaRuntime rt(path);
    const double diff = max_abs_diff(expected, rt.forward(tokens, /*all_logits=*/true));
    rt.reset();
    std::vector<int32_t> ran = prompt;
    std::vector<float> logits = rt.forward(prompt);
    for (int i = 0; i < 64; ++i) {
      ran.push_back(static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
      logits = rt.forward({ran.back()});
    }
    int equal = 0;
    while (equal < static_cast<int>(ran.size()) && ran[static_cast<size_t>(equal)] == trained[static_cast<size_t>(equal)])
      ++equal;
    rt.reset();
    const double nll = runtime::perplexity(rt, m.val_tokens, 64).mean_nll;
    std::printf("[ contract ] %s: max |logit diff| %.3g, greedy tokens equal before the first difference %d/72, "
                "val loss %.5f (trainer %.5f)\n",
                gguf::to_string(c.type), diff, equal, nll, trainer_loss);
    EXPECT_LT(diff, c.max_logit_diff) << gguf::to_string(c.type);
    EXPECT_GE(equal, c.min_equal_greedy_tokens) << gguf::to_string(c.type);
    EXPECT_NEAR(nll, trainer_loss, c.max_nll_ratio * trainer_loss) << gguf::to_string(c.type);
  }
}

// GPTQ-calibrated weights are ordinary quantized weights: exported and run, they give the
// training forward's logits, as a trained model does.
TEST(InferenceContract, ACalibratedModelRunsAsTrained) {
  TrainedModel& m = trained_model();
  const std::string dir = work_dir("calibrated");
  const std::string yaml = R"(
training: {steps: 1, batch_size: 8, seq_len: 64}
eval: {every: 0, batches: 2, sample_tokens: 0}
checkpoint: {every: 0}
init: {from: checkpoint, calibrate: awq+gptq, calibration_sequences: 16}
)";
  std::unique_ptr<Trainer> trainer = std::make_unique<Trainer>(
      TrainConfig::parse(yaml, "calibrated.yaml",
                         {"output_dir=" + dir, "init.path=" + m.checkpoint,
                          std::string("data.text_files=") + TERNARY_SOURCE_DIR + "/data/tinyshakespeare.txt",
                          "data.cache=" + dir + "/tokens.bin"}),
      "", nullptr);
  const std::string checkpoint = dir + "/calibrated";
  write_checkpoint(checkpoint, *trainer->model(), nullptr, TrainerState{}, trainer->config().to_yaml());
  export_gguf(checkpoint, dir + "/model.gguf", {});
  runtime::LlamaRuntime rt(dir + "/model.gguf");
  const std::vector<int32_t> tokens(m.val_tokens.begin(), m.val_tokens.begin() + 128);
  const at::Tensor expected = training_logits(trainer->model(), tokens);
  EXPECT_LT(max_abs_diff(expected, rt.forward(tokens, /*all_logits=*/true)), 1e-2);
}

TEST(InferenceContract, PerplexityMatchesTheTrainerEvalWithinOnePercent) {
  TrainedModel& m = trained_model();
  runtime::LlamaRuntime rt(m.gguf);
  const runtime::PerplexityResult r = runtime::perplexity(rt, m.val_tokens, 64);
  const double trainer_loss = m.trainer->evaluate();
  std::printf("[ contract ] val loss: trainer %.5f, runtime %.5f over %lld tokens\n", trainer_loss, r.mean_nll,
              static_cast<long long>(r.tokens));
  EXPECT_EQ(r.windows, 48);
  EXPECT_NEAR(r.mean_nll, trainer_loss, 0.01 * trainer_loss);
}

TEST(InferenceContract, Tq1AndTq2FilesRunIdentically) {
  TrainedModel& m = trained_model();
  const std::string tq1 = work_dir("tq1") + "/model.gguf";
  const ExportSummary s = export_gguf(m.checkpoint, tq1, {gguf::TensorType::kTQ1_0, gguf::TensorType::kF32, ""});
  EXPECT_LT(s.file_bytes, static_cast<int64_t>(fs::file_size(m.gguf)));
  runtime::LlamaRuntime a(m.gguf), b(tq1);
  const std::vector<int32_t> tokens(m.val_tokens.begin(), m.val_tokens.begin() + 64);
  EXPECT_EQ(a.forward(tokens, true), b.forward(tokens, true));
}

// The BitNet variant (SubLN before o_proj/down_proj, ReLU^2 MLP) keeps the same contract, under an
// architecture name llama.cpp does not mistake for its SiLU `bitnet` graph.
TEST(InferenceContract, BitNetVariantRunsAsTrained) {
  const std::string dir = work_dir("bitnet");
  const std::string yaml = R"(
model: {variant: bitnet, dim: 256, n_layers: 1, n_heads: 4, n_kv_heads: 2, ffn_dim: 512, max_seq_len: 64}
training: {steps: 40, batch_size: 8, seq_len: 64}
optimizer: {name: adamw8bit, lr: 3.0e-3, min_8bit_size: 1024}
schedule: {warmup_steps: 5}
eval: {every: 0, batches: 2, sample_tokens: 0}
checkpoint: {every: 0}
)";
  const std::unique_ptr<Trainer> trainer = shakespeare_trainer(yaml, "bitnet.yaml", dir);
  const std::string gguf_path = dir + "/model.gguf";
  export_gguf(trainer->run().checkpoint, gguf_path, {});
  EXPECT_EQ(gguf::File(gguf_path).string("general.architecture"), "ternary-bitnet");

  const std::vector<int32_t> tokens =
      Tokenizer::bytes().encode("ROMEO:\nWhat light through yonder window breaks? It is the east");
  runtime::LlamaRuntime rt(gguf_path);
  EXPECT_TRUE(rt.shape().bitnet());
  const at::Tensor expected = training_logits(trainer->model(), tokens);
  const double diff = max_abs_diff(expected, rt.forward(tokens, /*all_logits=*/true));
  std::printf("[ contract ] bitnet: max |logit diff| over %zu positions: %.3g (logit range %.2f)\n", tokens.size(),
              diff, (expected.max() - expected.min()).item<double>());
  EXPECT_LT(diff, 1e-2);
  rt.reset();
  std::vector<float> last;
  for (const int32_t token : tokens) last = rt.forward({token});
  EXPECT_LT(max_abs_diff(expected[static_cast<int64_t>(tokens.size()) - 1], last), 1e-2);
}

TEST(GgufExport, RefusesWhatTheFormatCannotHoldExactly) {
  const std::string dir = work_dir("refuse");
  auto checkpoint_of = [&](const std::string& name, LlamaConfig c, const std::string& preset) {
    TrainConfig config;
    config.model = c;
    config.training.seq_len = c.max_seq_len;
    config.quantization.preset = preset;
    LlamaModel model(c, config.quantization.recipe());
    write_checkpoint(dir + "/" + name, *model, nullptr, TrainerState{}, config.to_yaml());
    return dir + "/" + name;
  };
  LlamaConfig small;  // dim 256, ffn 768: exportable
  small.n_layers = 1, small.max_seq_len = 32;
  auto error_of = [&](const std::string& checkpoint) {
    try {
      export_gguf(checkpoint, dir + "/out.gguf", {});
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  LlamaConfig narrow = small;
  narrow.dim = 128, narrow.ffn_dim = 384;
  EXPECT_NE(error_of(checkpoint_of("narrow", narrow, "bitnet_b158"))
                .find("layer layers.0.self_attn.q_proj cannot be exported exactly: its input size 128 is not a "
                      "multiple of 256"),
            std::string::npos);
  EXPECT_NE(error_of(checkpoint_of("twn", small, "twn")).find("int8 per-token inputs"), std::string::npos);
  EXPECT_NE(error_of(checkpoint_of("group", small, "int4_group128")).find("cannot be exported exactly"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dir + "/out.gguf"));  // nothing written on refusal
  EXPECT_EQ(error_of(checkpoint_of("fp32", small, "none")), "");  // full precision exports as F32
  EXPECT_THROW(export_gguf(dir + "/missing", dir + "/out2.gguf", {}), CheckpointError);
  // --output-type q8_0 needs rows in whole 32-value blocks: a full-precision down_proj with 520
  // inputs is refused by name, and nothing is written.
  LlamaConfig odd_ffn = small;
  odd_ffn.ffn_dim = 520;
  const std::string odd = checkpoint_of("odd_ffn", odd_ffn, "none");
  try {
    export_gguf(odd, dir + "/q8.gguf", {gguf::TensorType::kTQ2_0, gguf::TensorType::kQ8_0, ""});
    ADD_FAILURE() << "expected a refusal";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "tensor blk.0.ffn_down.weight has rows of 520 values, not a multiple of 32 (the "
                                     "Q8_0 block); export with --output-type f16 or f32");
  }
  EXPECT_FALSE(fs::exists(dir + "/q8.gguf"));
  export_gguf(odd, dir + "/f16.gguf", {gguf::TensorType::kTQ2_0, gguf::TensorType::kF16, ""});
  EXPECT_EQ(gguf::File(dir + "/f16.gguf").tensor("blk.0.ffn_down.weight").type, gguf::TensorType::kF16);
}

// Every quantizer option a recipe can set, one at a time on top of bitnet_b158: the export either
// refuses the recipe (naming the layer) or the file runs exactly as training computes. An option
// exported but ignored by the runtime (as the input scale eps once was) fails here.
TEST(InferenceContract, EveryExportableQuantizerOptionRunsAsTrained) {
  const std::string dir = work_dir("options");
  const std::string base_weight = "{levels: ternary, granularity: tensor, scale: absmean}";
  const std::string base_input = "{levels: int, bits: 8, granularity: token, scale: absmax}";
  struct Variant {
    std::string name, weight, input;
    bool exportable;
  };
  // Each variant spells its quantizer whole (a repeated YAML key would silently keep the first).
  auto w = [](const std::string& parts) { return "{levels: ternary, " + parts + "}"; };
  auto in = [](const std::string& parts) { return "{levels: int, bits: 8, " + parts + "}"; };
  const std::string tensor_absmean = "granularity: tensor, scale: absmean";
  const std::string token_absmax = "granularity: token, scale: absmax";
  const std::vector<Variant> variants = {
      {"base", base_weight, base_input, true},
      {"w_channel", w("granularity: channel, scale: absmean"), base_input, true},
      {"w_group", w("granularity: group, group_size: 128, scale: absmean"), base_input, false},
      {"w_absmax", w("granularity: tensor, scale: absmax"), base_input, true},
      {"w_twn_mean", w("granularity: tensor, scale: twn_mean, threshold: mean_ratio"), base_input, true},
      {"w_learned_scale", w("granularity: channel, scale: absmean, learned_scale: true, gradient: lsq"), base_input,
       true},
      {"w_asymmetric", w("granularity: channel, scale: absmean, learned_scale: true, asymmetric_scale: true, "
                         "threshold: max_ratio, threshold_ratio: 0.05"),
       base_input, false},
      {"w_mean_ratio", w(tensor_absmean + ", threshold: mean_ratio, threshold_ratio: 0.5"), base_input, true},
      {"w_max_ratio", w(tensor_absmean + ", threshold: max_ratio, threshold_ratio: 0.2"), base_input, true},
      {"w_learned_threshold", w("granularity: channel, scale: absmean, threshold: learned"), base_input, true},
      {"w_eps", w(tensor_absmean + ", eps: 0.01"), base_input, true},
      {"w_clipped_ste", w(tensor_absmean + ", gradient: clipped_ste"), base_input, true},
      {"w_int4", "{levels: int, bits: 4, granularity: channel, scale: absmax}", base_input, false},
      {"w_binary", "{levels: binary, granularity: tensor, scale: absmean}", base_input, false},
      {"in_eps", base_weight, in(token_absmax + ", eps: 0.05"), true},  // above most tokens' absmax/127: binds
      {"in_narrow", base_weight, in(token_absmax + ", narrow_range: true"), true},
      {"in_clipped_ste", base_weight, in(token_absmax + ", gradient: clipped_ste"), true},
      {"in_bits7", base_weight, "{levels: int, bits: 7, granularity: token, scale: absmax}", false},
      {"in_tensor", base_weight, in("granularity: tensor, scale: absmax"), false},
      {"in_absmean", base_weight, in("granularity: token, scale: absmean"), false},
      {"in_learned", base_weight, in("granularity: tensor, scale: absmax, learned_scale: true"), false},
      {"in_uint8", base_weight, "{levels: uint, bits: 8, granularity: token, scale: absmax}", false},
  };
  LlamaConfig shape;
  shape.n_layers = 1, shape.ffn_dim = 512, shape.n_kv_heads = 2, shape.vocab_size = 256, shape.max_seq_len = 32;
  const std::vector<int32_t> tokens = Tokenizer::bytes().encode("ROMEO:\nBut soft, what light?");
  for (const Variant& v : variants) {
    SCOPED_TRACE(v.name);
    TrainConfig config;
    config.model = shape;
    config.training.seq_len = shape.max_seq_len;
    config.quantization.rules_yaml =
        "- {match: [lm_head, '*embed*'], preset: none}\n- {match: '*', weight: " + v.weight + ", input: " + v.input + "}\n";
    torch::manual_seed(7);
    LlamaModel model(config.model, config.quantization.recipe());
    {  // a few scaled weights, so learned scales/thresholds differ from their initial statistics
      at::NoGradGuard no_grad;
      for (auto& p : model->named_parameters())
        if (p.key().find("threshold") != std::string::npos || p.key().find("scale") != std::string::npos)
          p.value().mul_(1.3);
    }
    const std::string checkpoint = dir + "/" + v.name;
    write_checkpoint(checkpoint, *model, nullptr, TrainerState{}, config.to_yaml());
    const std::string gguf_path = dir + "/" + v.name + ".gguf";
    std::string refusal;
    try {
      export_gguf(checkpoint, gguf_path, {});
    } catch (const std::exception& e) {
      refusal = e.what();
    }
    if (!v.exportable) {
      EXPECT_NE(refusal.find("cannot be exported exactly"), std::string::npos) << refusal;
      EXPECT_FALSE(fs::exists(gguf_path));
      continue;
    }
    ASSERT_EQ(refusal, "");
    runtime::LlamaRuntime rt(gguf_path);
    const at::Tensor expected = training_logits(model, tokens);
    const double range = (expected.max() - expected.min()).item<double>();
    EXPECT_LT(max_abs_diff(expected, rt.forward(tokens, /*all_logits=*/true)), 1e-3 * std::max(1.0, range));
  }
}

// A SentencePiece-trained model's tokenizer travels whole in the file: the LibTorch-free runtime
// tokenizes and detokenizes exactly as training did (including text it never saw, whitespace runs
// and characters outside the vocabulary), and its vocabulary keys name the same pieces.
TEST(GgufExport, SentencePieceTokenizerTravelsInTheFile) {
  const std::string dir = work_dir("sentencepiece");
  const std::string prefix = dir + "/sp";
  ASSERT_TRUE(sentencepiece::SentencePieceTrainer::Train(
                  "--input=" + std::string(TERNARY_SOURCE_DIR) + "/data/tinyshakespeare.txt --model_prefix=" + prefix +
                  " --vocab_size=300 --model_type=bpe --input_sentence_size=20000 --minloglevel=2")
                  .ok());
  TrainConfig config;
  config.model.n_layers = 1, config.model.max_seq_len = 32, config.model.vocab_size = 300;  // dim 256: exportable
  config.training.seq_len = 32;
  config.data.tokenizer = TokenizerKind::kSentencePiece;
  config.data.tokenizer_model = prefix + ".model";
  LlamaModel model(config.model, config.quantization.recipe());
  write_checkpoint(dir + "/checkpoint", *model, nullptr, TrainerState{}, config.to_yaml());
  export_gguf(dir + "/checkpoint", dir + "/model.gguf", {});

  const gguf::File file(dir + "/model.gguf");
  const Tokenizer runtime_tokenizer = runtime::tokenizer_from_gguf(file);
  const Tokenizer training_tokenizer = Tokenizer::from_file(TokenizerKind::kSentencePiece, prefix + ".model");
  EXPECT_EQ(runtime_tokenizer.vocab_size(), 300);
  for (const std::string text : {"ROMEO:\nBut soft, what light through yonder window breaks?",
                                 "  two  spaces,\ttabs\n\nand blank lines  ", "Zürich — naïve café ☃ 日本",
                                 "", "x"}) {
    const std::vector<int32_t> ids = training_tokenizer.encode(text);
    EXPECT_EQ(runtime_tokenizer.encode(text), ids) << text;
    EXPECT_EQ(runtime_tokenizer.decode(ids), training_tokenizer.decode(ids)) << text;
  }
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load(prefix + ".model").ok());
  const auto& pieces = std::get<std::vector<std::string>>(file.value("tokenizer.ggml.tokens").data);
  ASSERT_EQ(pieces.size(), 300u);
  for (int id = 0; id < sp.GetPieceSize(); ++id) EXPECT_EQ(pieces[static_cast<size_t>(id)], sp.IdToPiece(id)) << id;
}

// The `gguf` Python package (tests/golden/gguf_export.py) read files exported from this same
// deterministic model: tensor names, types, shapes, metadata and dequantized ternary values must agree.
TEST(GgufExport, AnIndependentReaderSeesTheSameFile) {
  const std::string dir = work_dir("golden");
  torch::manual_seed(20261122);
  TrainConfig config;
  config.model.n_layers = 1, config.model.ffn_dim = 512, config.model.n_kv_heads = 2, config.model.vocab_size = 256;
  config.model.max_seq_len = 64;
  LlamaModel model(config.model, config.quantization.recipe());
  write_checkpoint(dir + "/tiny", *model, nullptr, TrainerState{}, config.to_yaml());
  const char* out = std::getenv("TERNARY_GOLDEN_OUT");  // to regenerate: see tests/golden/gguf_export.py
  auto path_of = [&](const std::string& type) { return (out ? std::string(out) : dir) + "/tiny_" + type + ".gguf"; };
  export_gguf(dir + "/tiny", path_of("tq2_0"), {gguf::TensorType::kTQ2_0, gguf::TensorType::kF32, "tiny"});
  export_gguf(dir + "/tiny", path_of("tq1_0"), {gguf::TensorType::kTQ1_0, gguf::TensorType::kF32, "tiny"});
  export_gguf(dir + "/tiny", path_of("tq2_0_q8_0"), {gguf::TensorType::kTQ2_0, gguf::TensorType::kQ8_0, "tiny"});
  std::ifstream golden_file(std::string(TERNARY_SOURCE_DIR) + "/tests/golden/gguf_export.json");
  ASSERT_TRUE(golden_file) << "tests/golden/gguf_export.json is missing";
  const auto golden = nlohmann::json::parse(golden_file);
  for (const std::string type : {"tq2_0", "tq1_0", "tq2_0_q8_0"}) {
    const gguf::File file(path_of(type));
    const auto& expected = golden.at(type);
    ASSERT_EQ(file.tensors().size(), expected.at("tensors").size()) << type;
    for (size_t i = 0; i < file.tensors().size(); ++i) {
      const gguf::TensorInfo& t = file.tensors()[i];
      const auto& e = expected.at("tensors")[i];
      EXPECT_EQ(t.name, e.at("name"));
      EXPECT_EQ(gguf::to_string(t.type), e.at("type").get<std::string>()) << t.name;
      EXPECT_EQ(t.dims, e.at("shape").get<std::vector<uint64_t>>()) << t.name;
      EXPECT_EQ(t.bytes, e.at("n_bytes").get<uint64_t>()) << t.name;
    }
    for (const auto& [key, value] : expected.at("metadata").items()) {
      ASSERT_TRUE(file.has(key)) << key;
      const gguf::Value& v = file.value(key);
      if (value.is_string()) EXPECT_EQ(std::get<std::string>(v.data), value.get<std::string>()) << key;
      else if (value.is_boolean()) EXPECT_EQ(std::get<bool>(v.data), value.get<bool>()) << key;
      else if (value.is_number_integer()) EXPECT_EQ(file.integer(key), value.get<int64_t>()) << key;
      else if (value.is_number()) EXPECT_FLOAT_EQ(file.number(key), value.get<double>()) << key;
    }
    EXPECT_EQ(file.metadata().size() + 3, expected.at("kv_count").get<size_t>());  // + GGUF.version/counts
    // gguf's own dequantizer: the first rows of attn_v are our trits times the fp16 scale.
    auto& attn = *model->layers[0]->as<LlamaDecoderLayerImpl>()->self_attn;
    const QuantizedValues q = attn.v_proj->weight_quantizer->encode(attn.v_proj->weight);
    const float d = kernels::fp16_to_fp32(kernels::fp32_to_fp16(q.scale.item<float>()));
    const auto values = expected.at("attn_v_first_512").get<std::vector<float>>();
    const at::Tensor codes = q.codes.reshape({-1}).slice(0, 0, 512).to(at::kFloat);
    for (int i = 0; i < 512; ++i) ASSERT_EQ(values[i], codes[i].item<float>() * d) << type << " value " << i;
    EXPECT_NEAR(expected.at("attn_v_abs_sum").get<double>(), (q.codes.abs().sum().item<double>() * d), 1e-2);
  }
  // --output-type q8_0: gguf quantized the F32 embedding itself and got our bytes; its dequantizer
  // reads what ours does.
  const auto& q8 = golden.at("tq2_0_q8_0");
  EXPECT_EQ(q8.at("token_embd_type"), "Q8_0");
  EXPECT_TRUE(q8.at("token_embd_equals_gguf_quantize").get<bool>());
  const gguf::File q8_file(path_of("tq2_0_q8_0"));
  const gguf::TensorInfo& embd = q8_file.tensor(gguf::kTokenEmbedding);
  std::vector<float> ours(512);
  kernels::dequantize_q8_0(reinterpret_cast<const kernels::BlockQ8_0*>(embd.data), 512, ours.data());
  EXPECT_EQ(ours, q8.at("token_embd_first_512").get<std::vector<float>>());
}

}  // namespace ternary
