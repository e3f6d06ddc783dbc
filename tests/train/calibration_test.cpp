// Calibration on a small LLaMA: statistics collected layer by layer and reused, AWQ folding that
// leaves the full-precision model unchanged, GPTQ lowering every layer's output error, and the
// config's errors.
#include "train/calibration.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "models/llama_layers.h"
#include "modules/quantize.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace ternary {
namespace {
namespace fs = std::filesystem;

std::string fresh_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/calibration_test/" + name;
  fs::remove_all(dir);
  return dir;
}

LlamaModel small_model() {
  LlamaConfig config;
  config.vocab_size = 64;
  config.dim = 32;
  config.n_layers = 2;
  config.n_heads = 2;
  config.n_kv_heads = 2;
  config.ffn_dim = 64;
  config.max_seq_len = 16;
  at::manual_seed(7);
  LlamaModel model(config, Recipe::from_preset("bitnet_b158"));
  // Uneven norm gains make some input channels salient, as trained models have them.
  at::NoGradGuard no_grad;
  for (auto& layer : *model->layers) {
    auto& l = *layer->as<LlamaDecoderLayerImpl>();
    l.input_layernorm->weight.copy_(at::rand({32}) * 3 + 0.1);
    l.post_attention_layernorm->weight.copy_(at::rand({32}) * 3 + 0.1);
  }
  model->initialize_quantizers();
  return model;
}

std::vector<at::Tensor> token_batches() {
  at::manual_seed(8);
  return {at::randint(0, 64, {4, 16}, at::kLong), at::randint(0, 64, {4, 16}, at::kLong)};
}

at::Tensor full_precision_logits(LlamaModel& model, const at::Tensor& tokens) {
  at::NoGradGuard no_grad;
  set_warmup_lambda(*model, 0.0);
  at::Tensor logits = model->forward(tokens);
  set_warmup_lambda(*model, 1.0);
  return logits;
}

}  // namespace

TEST(Calibration, StatisticsAreOneFilePerLayerAndDescribeTheirSource) {
  LlamaModel model = small_model();
  const std::string dir = fresh_dir("statistics");
  collect_calibration_statistics(model, token_batches(), dir, nullptr);
  const CalibrationStatistics stats = CalibrationStatistics::open(dir);
  EXPECT_EQ(stats.n_layers(), 2);
  EXPECT_EQ(stats.description(), calibration_description(model, token_batches()));
  const auto layer = stats.layer(1);
  ASSERT_EQ(layer.size(), 4u);
  EXPECT_EQ(layer.at("self_attn.qkv").hessian.sizes(), (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(layer.at("mlp.down").hessian.sizes(), (std::vector<int64_t>{64, 64}));
  // H = XᵀX / n is symmetric with mean |x|² on its diagonal: positive.
  const at::Tensor H = layer.at("mlp.gate_up").hessian;
  EXPECT_TRUE(at::allclose(H, H.t()));
  EXPECT_TRUE((H.diagonal() > 0).all().item<bool>());
  // Other weights, another description: a run would not reuse these.
  LlamaModel other = small_model();
  at::NoGradGuard no_grad;
  other->layers[0]->as<LlamaDecoderLayerImpl>()->mlp->up_proj->weight.add_(1e-3);
  EXPECT_NE(calibration_description(other, token_batches()), stats.description());
}

TEST(Calibration, StatisticsFilesAreCheckedWhenRead) {
  LlamaModel model = small_model();
  const std::string dir = fresh_dir("checked");
  collect_calibration_statistics(model, token_batches(), dir, nullptr);
  {
    std::fstream file(dir + "/layer_0000.pt", std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(100);
    file.write("\x01\x02\x03", 3);
  }
  const CalibrationStatistics stats = CalibrationStatistics::open(dir);  // sizes still match
  EXPECT_NO_THROW(stats.layer(1));
  try {
    stats.layer(0);
    FAIL() << "a corrupt layer file was read";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("layer_0000.pt fails its checksum"), std::string::npos) << e.what();
  }
  EXPECT_THROW(stats.verify(), CheckpointError);
  fs::resize_file(dir + "/layer_0001.pt", 10);
  EXPECT_THROW(CalibrationStatistics::open(dir), CheckpointError);  // a size is checked at open
}

TEST(Calibration, AwqFoldingLeavesTheFullPrecisionModelUnchanged) {
  LlamaModel model = small_model();
  const at::Tensor tokens = token_batches()[0];
  const at::Tensor before = full_precision_logits(model, tokens);
  const std::string dir = fresh_dir("awq");
  collect_calibration_statistics(model, token_batches(), dir, nullptr);
  const CalibrationReport report =
      calibrate_model(model, CalibrationStatistics::open(dir), {CalibrationMethod::kAwq, {}, 20}, nullptr);
  double largest_alpha = 0;
  for (const auto& l : report.linears) largest_alpha = std::max(largest_alpha, std::abs(l.awq_alpha));
  EXPECT_GT(largest_alpha, 0.0);  // it did scale something, so the check below means something
  EXPECT_LE(report.mean_error_after(), report.mean_error_absmean());
  EXPECT_TRUE(at::allclose(full_precision_logits(model, tokens), before, 1e-4, 1e-4));
  EXPECT_FALSE(report.notes.empty());  // o_proj and down_proj have no norm before them in LLaMA
}

TEST(Calibration, GptqLowersEveryLayersOutputError) {
  for (CalibrationMethod method : {CalibrationMethod::kGptq, CalibrationMethod::kAwqGptq}) {
    LlamaModel model = small_model();
    const std::string dir = fresh_dir(std::string("gptq_") + to_string(method));
    collect_calibration_statistics(model, token_batches(), dir, nullptr);
    const CalibrationReport report =
        calibrate_model(model, CalibrationStatistics::open(dir), {method, {0.01, 8}, 10}, nullptr);
    ASSERT_EQ(report.linears.size(), 14u);
    for (const auto& l : report.linears) EXPECT_LT(l.error_after, l.error_absmean) << l.name;
    // The quantizers' own forward gives what GPTQ chose: the report's error is the model's.
    EXPECT_NE(report.to_json().find("\"relative_error_after\""), std::string::npos);
  }
}

TEST(Calibration, TheTrainerCollectsOnceReusesAndRecollectsDamagedStatistics) {
  const std::string teacher = fresh_dir("teacher");
  const auto config = [](const std::string& out, std::vector<std::string> more) {
    const std::string yaml = R"(
model: {dim: 32, n_layers: 2, n_heads: 2, ffn_dim: 64}
training: {steps: 2, batch_size: 4, seq_len: 16}
optimizer: {name: adamw, lr: 3.0e-3}
eval: {every: 0, batches: 2, sample_tokens: 0}
checkpoint: {every: 0}
)";
    std::vector<std::string> all = {"output_dir=" + out,
                                    std::string("data.text_files=") + TERNARY_SOURCE_DIR + "/data/tinyshakespeare.txt",
                                    "data.cache=" + ::testing::TempDir() + "/calibration_test_tokens.bin"};
    all.insert(all.end(), more.begin(), more.end());
    return TrainConfig::parse(yaml, "calibration.yaml", all);
  };
  const std::string checkpoint = Trainer(config(teacher, {"quantization.preset=none"}), "", nullptr).run().checkpoint;
  const std::string stats = fresh_dir("shared_stats");
  const std::vector<std::string> calibrated = {"init.from=checkpoint", "init.path=" + checkpoint, "init.calibrate=gptq",
                                               "init.calibration_sequences=8", "init.calibration_statistics=" + stats};
  std::ostringstream first_log, second_log, third_log;
  const std::string first_dir = fresh_dir("first");
  Trainer first(config(first_dir, calibrated), "", &first_log);
  EXPECT_NE(first_log.str().find("calibration statistics written"), std::string::npos);
  Trainer second(config(fresh_dir("second"), calibrated), "", &second_log);
  EXPECT_NE(second_log.str().find("reusing"), std::string::npos);
  // Same statistics, same method: the same weights.
  const auto a = first.model()->named_parameters(), b = second.model()->named_parameters();
  for (const auto& p : a) EXPECT_TRUE(at::equal(p.value(), b[p.key()])) << p.key();
  EXPECT_TRUE(fs::exists(first_dir + "/calibration_report.json"));
  // A damaged statistics file is noticed, said, and collected anew.
  std::fstream(stats + "/layer_0001.pt", std::ios::in | std::ios::out | std::ios::binary).write("XXXX", 4);
  Trainer third(config(fresh_dir("third"), calibrated), "", &third_log);
  EXPECT_NE(third_log.str().find("unusable"), std::string::npos);
  EXPECT_NE(third_log.str().find("calibration statistics written"), std::string::npos);
}

TEST(Calibration, ConfigErrorsNameTheFix) {
  const auto parse = [](const std::string& yaml) { return TrainConfig::parse(yaml, "c.yaml", {}); };
  try {
    parse("init: {calibrate: gptq}\n");
    FAIL() << "calibrating from scratch was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("set init.from: checkpoint or hf"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse("init: {from: checkpoint, path: x, calibrate: gtpq}\n"), ConfigError);
  EXPECT_THROW(parse("init: {from: checkpoint, path: x, gptq_damp: -1}\n"), ConfigError);
  EXPECT_EQ(parse("init: {from: hf, path: x, calibrate: awq+gptq}\n").init.calibrate, CalibrationMethod::kAwqGptq);
}

}  // namespace ternary
