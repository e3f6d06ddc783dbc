#include "train/trainer.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>

#include <cstring>

#include <filesystem>
#include <fstream>

#include <sentencepiece_trainer.h>

#include "common/crc32c.h"
#include "models/hf_import.h"
#include "train/distillation.h"
#include "train/sampling.h"

namespace ternary {
namespace {
namespace fs = std::filesystem;

std::string fresh_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/trainer_test/" + name;
  fs::remove_all(dir);
  return dir;
}

// A tiny model on the bundled corpus: 8 steps, eval and checkpoints every 4.
TrainConfig tiny_config(const std::string& output_dir, std::vector<std::string> overrides = {}) {
  const std::string yaml = R"(
model: {dim: 32, n_layers: 2, n_heads: 2, ffn_dim: 64}
training: {steps: 8, batch_size: 4, seq_len: 16}
optimizer: {name: adamw8bit, lr: 3.0e-3, min_8bit_size: 1024}
schedule: {warmup_steps: 2}
eval: {every: 4, batches: 2, sample_tokens: 8}
checkpoint: {every: 4, keep_last: 2}
)";
  std::vector<std::string> all = {"output_dir=" + output_dir,
                                  std::string("data.text_files=") + TERNARY_SOURCE_DIR + "/data/tinyshakespeare.txt",
                                  "data.cache=" + ::testing::TempDir() + "/trainer_test_tokens.bin"};
  all.insert(all.end(), overrides.begin(), overrides.end());  // the test's own come last and win
  return TrainConfig::parse(yaml, "tiny.yaml", all);
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void expect_same_parameters(LlamaModel& a, LlamaModel& b) {
  const auto pa = a->named_parameters(), pb = b->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& p : pa) EXPECT_TRUE(at::equal(p.value(), pb[p.key()])) << p.key();
}

}  // namespace

TEST(Trainer, TrainsWritesMetricsAndKeepsLastAndBestCheckpoints) {
  const std::string out = fresh_dir("basic");
  Trainer trainer(tiny_config(out, {"checkpoint.every=2", "training.tensorboard=true"}), "", nullptr);
  EXPECT_EQ(trainer.config().model.vocab_size, 256);  // auto = the byte tokenizer's
  const double before = trainer.evaluate();
  const TrainResult result = trainer.run();
  EXPECT_EQ(result.step, 8);
  EXPECT_FALSE(result.interrupted);
  ASSERT_EQ(result.losses.size(), 8u);
  EXPECT_LT(result.val_loss, before);
  EXPECT_EQ(list_step_checkpoints(out + "/checkpoints"),
            (std::vector<std::string>{out + "/checkpoints/step_000006", out + "/checkpoints/step_000008"}));
  EXPECT_TRUE(fs::exists(out + "/checkpoints/best/manifest.json"));
  EXPECT_EQ(result.checkpoint, out + "/checkpoints/step_000008");
  // metrics.jsonl: a record per step plus one per eval (steps 4 and 8), with samples.
  std::ifstream metrics(out + "/metrics.jsonl");
  int steps = 0, evals = 0;
  for (std::string line; std::getline(metrics, line);) {
    steps += line.find("\"loss\"") != std::string::npos;
    evals += line.find("\"val_loss\"") != std::string::npos && line.find("\"sample\"") != std::string::npos;
  }
  EXPECT_EQ(steps, 8);
  EXPECT_EQ(evals, 2);
  // training.tensorboard: one event file of well-framed records: the version and session start,
  // 5 scalars a step, 2 an eval (what TensorBoard makes of the records: tensorboard_events_test).
  std::vector<fs::path> event_files;
  for (const auto& entry : fs::directory_iterator(out + "/tensorboard")) event_files.push_back(entry.path());
  ASSERT_EQ(event_files.size(), 1u);
  const std::string events = read_bytes(event_files[0].string());
  int records = 0;
  for (size_t at = 0; at < events.size(); ++records) {
    ASSERT_LE(at + 12, events.size());
    uint64_t length;
    std::memcpy(&length, events.data() + at, 8);
    ASSERT_LE(at + 16 + length, events.size());
    uint32_t crc;
    std::memcpy(&crc, events.data() + at + 12 + length, 4);
    EXPECT_EQ(crc, masked_crc32c(events.data() + at + 12, length));
    at += 16 + length;
  }
  EXPECT_EQ(records, 2 + 8 * 5 + 2 * 2);
  // The resolved config is in the output dir and in each checkpoint.
  EXPECT_EQ(Checkpoint::open(result.checkpoint).config_yaml(), trainer.config().to_yaml());
}

// N steps straight == stop after 1 (as Ctrl-C does) + resume for the rest, and == resume from the
// mid-run checkpoint at N/2: identical losses and parameters.
TEST(Trainer, ResumeContinuesExactly) {
  const std::string straight_dir = fresh_dir("straight");
  Trainer straight(tiny_config(straight_dir), "", nullptr);
  const TrainResult full = straight.run();

  const std::string stopped_dir = fresh_dir("stopped");
  std::atomic<bool> stop{true};
  const TrainResult first = Trainer(tiny_config(stopped_dir), "", nullptr).run(&stop);
  EXPECT_TRUE(first.interrupted);
  EXPECT_EQ(first.step, 1);
  EXPECT_EQ(first.checkpoint, stopped_dir + "/checkpoints/step_000001");
  Trainer resumed(tiny_config(stopped_dir), find_checkpoint(stopped_dir), nullptr);
  EXPECT_EQ(resumed.step(), 1);
  const TrainResult rest = resumed.run();
  std::vector<double> joined = first.losses;
  joined.insert(joined.end(), rest.losses.begin(), rest.losses.end());
  EXPECT_EQ(joined, full.losses);
  EXPECT_EQ(rest.val_loss, full.val_loss);
  expect_same_parameters(resumed.model(), straight.model());

  // Half way: a copy of the straight run's step-4 checkpoint, resumed into another output dir.
  const std::string half_dir = fresh_dir("half");
  fs::create_directories(half_dir + "/checkpoints");
  fs::copy(straight_dir + "/checkpoints/step_000004", half_dir + "/checkpoints/step_000004");
  Trainer from_half(tiny_config(half_dir), find_checkpoint(half_dir), nullptr);
  const TrainResult second_half = from_half.run();
  EXPECT_EQ(second_half.losses, std::vector<double>(full.losses.begin() + 4, full.losses.end()));
  expect_same_parameters(from_half.model(), straight.model());
}

// training.activation_checkpointing changes memory, not results: the same losses, val loss and
// weights as plain training, step for step.
TEST(Trainer, ActivationCheckpointingTrainsExactlyAsPlainTraining) {
  Trainer plain(tiny_config(fresh_dir("plain")), "", nullptr);
  Trainer checkpointed(tiny_config(fresh_dir("checkpointed"), {"training.activation_checkpointing=true"}), "", nullptr);
  const TrainResult a = plain.run(), b = checkpointed.run();
  EXPECT_EQ(a.losses, b.losses);
  EXPECT_EQ(a.val_loss, b.val_loss);
  expect_same_parameters(plain.model(), checkpointed.model());
}

TEST(Trainer, CorruptCheckpointIsAClearErrorAndChangesNothing) {
  const std::string out = fresh_dir("corrupt");
  Trainer(tiny_config(out, {"training.steps=4"}), "", nullptr).run();
  const std::string checkpoint = out + "/checkpoints/step_000004";
  std::string model_bytes = read_bytes(checkpoint + "/model.pt");
  model_bytes[model_bytes.size() / 2] ^= 0x5a;
  std::ofstream(checkpoint + "/model.pt", std::ios::binary | std::ios::trunc) << model_bytes;
  const auto metrics_before = read_bytes(out + "/metrics.jsonl");
  try {
    Trainer(tiny_config(out), find_checkpoint(out), nullptr);
    FAIL() << "a corrupt checkpoint must not load";
  } catch (const CheckpointError& e) {
    EXPECT_EQ(std::string(e.what()),
              "checkpoint file " + checkpoint + "/model.pt fails its checksum (corrupt; use another checkpoint)");
  }
  EXPECT_EQ(read_bytes(checkpoint + "/model.pt"), model_bytes);  // untouched
  EXPECT_EQ(read_bytes(out + "/metrics.jsonl"), metrics_before);
  EXPECT_EQ(list_step_checkpoints(out + "/checkpoints").size(), 1u);

  // Truncated file, missing manifest, nothing to resume.
  std::ofstream(checkpoint + "/optimizer.pt", std::ios::binary | std::ios::trunc) << "x";
  EXPECT_THROW(Checkpoint::open(checkpoint), CheckpointError);
  fs::remove(checkpoint + "/manifest.json");
  try {
    Checkpoint::open(checkpoint);
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_EQ(std::string(e.what()), "checkpoint " + checkpoint + " has no manifest.json (not a ternary-train checkpoint)");
  }
  const std::string empty = fresh_dir("empty");
  fs::create_directories(empty);
  EXPECT_THROW(find_checkpoint(empty), CheckpointError);
}

TEST(Trainer, RefusesToOverwriteAnotherRunsCheckpoints) {
  const std::string out = fresh_dir("occupied");
  Trainer(tiny_config(out, {"training.steps=2"}), "", nullptr).run();
  try {
    Trainer(tiny_config(out), "", nullptr);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "output_dir " + out + " already holds a run's checkpoints; continue it with "
                                     "--resume " + out + ", or pick another --set output_dir=DIR");
  }
}

TEST(Trainer, ModelShapeThatDiffersFromTheCheckpointIsAClearError) {
  const std::string out = fresh_dir("shape");
  Trainer(tiny_config(out, {"training.steps=2"}), "", nullptr).run();
  try {
    Trainer(tiny_config(out, {"model.ffn_dim=48"}), find_checkpoint(out), nullptr);
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("model config differs"), std::string::npos) << e.what();
  }
}

TEST(Trainer, InitFromAFullPrecisionCheckpointUnderATernaryRecipe) {
  const std::string fp_dir = fresh_dir("fp32");
  Trainer fp(tiny_config(fp_dir, {"training.steps=2", "quantization.preset=none", "optimizer={name: adamw, lr: 3.0e-3}"}), "", nullptr);
  fp.run();
  const std::string out = fresh_dir("from_fp32");
  Trainer ternary(tiny_config(out, {"init.from=checkpoint", "init.path=" + fp_dir + "/checkpoints/step_000002",
                                    "quantization.warmup_steps=4"}),
                  "", nullptr);
  const auto fp_params = fp.model()->named_parameters();
  for (const auto& p : ternary.model()->named_parameters())
    if (p.key().find("_quantizer.") == std::string::npos) EXPECT_TRUE(at::equal(p.value(), fp_params[p.key()])) << p.key();
  EXPECT_NE(ternary.model()->layers[0]->as<LlamaDecoderLayerImpl>()->mlp->up_proj->weight_quantizer.get(), nullptr);
  const TrainResult result = ternary.run();
  EXPECT_TRUE(std::isfinite(result.val_loss));
}

TEST(Trainer, FineTunesAHuggingFaceCheckpointWithItsTokenizerSize) {
  const std::string hf_dir = std::string(TERNARY_SOURCE_DIR) + "/tests/golden/tiny_llama";  // vocab 96
  const std::string prefix = ::testing::TempDir() + "/trainer_sp96";
  ASSERT_TRUE(sentencepiece::SentencePieceTrainer::Train(
                  "--input=" + std::string(TERNARY_SOURCE_DIR) + "/data/tinyshakespeare.txt --model_prefix=" + prefix +
                  " --vocab_size=96 --model_type=bpe --input_sentence_size=20000 --minloglevel=2")
                  .ok());
  const std::vector<std::string> hf = {"init.from=hf", "init.path=" + hf_dir, "quantization.warmup_steps=4",
                                       "data.tokenizer=sentencepiece", "data.tokenizer_model=" + prefix + ".model",
                                       "data.cache=" + prefix + ".tokens", "training.steps=4"};
  Trainer trainer(tiny_config(fresh_dir("hf"), hf), "", nullptr);
  EXPECT_EQ(trainer.config().model.dim, 64);  // the shape comes from config.json
  EXPECT_EQ(trainer.config().model.n_kv_heads, 2);
  LlamaModel reference = load_hf_llama(hf_dir, Recipe{});
  const auto expected = reference->named_parameters();
  for (const auto& p : trainer.model()->named_parameters())
    if (p.key().find("_quantizer.") == std::string::npos) EXPECT_TRUE(at::equal(p.value(), expected[p.key()])) << p.key();
  EXPECT_TRUE(std::isfinite(trainer.run().val_loss));
  // The byte tokenizer's 256 ids do not fit the checkpoint's 96: a clear error.
  try {
    Trainer(tiny_config(fresh_dir("hf_bytes"), {"init.from=hf", "init.path=" + hf_dir}), "", nullptr);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("vocab_size (96) is smaller than the data's (256)"), std::string::npos)
        << e.what();
  }
}

TEST(Trainer, DistillsFromATeacherCheckpoint) {
  const std::string teacher_dir = fresh_dir("teacher");
  Trainer(tiny_config(teacher_dir, {"training.steps=2", "quantization.preset=none"}), "", nullptr).run();
  const std::string out = fresh_dir("student");
  const TrainResult result = Trainer(tiny_config(out, {"distillation.teacher=" + teacher_dir +
                                                       "/checkpoints/step_000002", "distillation.weight=0.5"}),
                                     "", nullptr)
                                 .run();
  EXPECT_EQ(result.step, 8);
  EXPECT_TRUE(std::isfinite(result.val_loss));
  // A teacher with another vocabulary cannot teach.
  const std::string other = fresh_dir("teacher_vocab");
  Trainer(tiny_config(other, {"training.steps=1", "model.vocab_size=300"}), "", nullptr).run();
  EXPECT_THROW(Trainer(tiny_config(fresh_dir("student2"), {"distillation.teacher=" + other + "/checkpoints/step_000001"}),
                       "", nullptr),
               ConfigError);
}

TEST(Trainer, GradientAccumulationMatchesTheLargerBatch) {
  // Two micro-batches of 4 draw the same windows as one batch of 8; one step must agree.
  Trainer accumulated(tiny_config(fresh_dir("accum"), {"training.steps=1", "training.grad_accum=2",
                                                       "optimizer={name: adamw, lr: 3.0e-3}"}), "", nullptr);
  Trainer large(tiny_config(fresh_dir("large"), {"training.steps=1", "training.batch_size=8", "optimizer={name: adamw, lr: 3.0e-3}"}),
                "", nullptr);
  const double loss_a = accumulated.run().losses[0], loss_b = large.run().losses[0];
  EXPECT_NEAR(loss_a, loss_b, 1e-5);
  const auto pb = large.model()->named_parameters();
  for (const auto& p : accumulated.model()->named_parameters())
    EXPECT_TRUE(at::allclose(p.value(), pb[p.key()], 1e-5, 1e-6)) << p.key();
}

TEST(Trainer, DataProblemsAreClearErrors) {
  EXPECT_THROW(Trainer(tiny_config(fresh_dir("nodata"), {"data.text_files=/nonexistent.txt"}), "", nullptr),
               std::runtime_error);
  // A directory stands for the files under it; an empty one is an error (once "corpus of 0 tokens").
  const std::string empty = fresh_dir("empty_data_dir");
  fs::create_directories(empty);
  try {
    Trainer(tiny_config(fresh_dir("dirdata"), {"data.text_files=" + empty}), "", nullptr);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "data.text_files: directory '" + empty + "' holds no files");
  }
  const std::string small = ::testing::TempDir() + "/small_corpus.txt";
  std::ofstream(small) << std::string(100, 'a');
  try {
    Trainer(tiny_config(fresh_dir("small"), {"data.text_files=" + small, "data.cache=" + small + ".bin"}), "", nullptr);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("the validation split has 10 tokens"), std::string::npos) << e.what();
  }
}

// optimizer.step_in_backward updates each parameter inside backward, as soon as its gradient is
// complete, and frees the gradient. Without clipping and with one micro-batch it must give exactly
// the ordinary step's losses and weights, also through checkpointed layers (whose recomputation
// runs its own backward); per-parameter clipping gives what the ordinary step's does.
TEST(Trainer, StepInBackwardTrainsExactlyAsTheOrdinaryStep) {
  const std::vector<std::vector<std::string>> settings = {
      {"training.grad_clip=0"},
      {"training.grad_clip=0.05", "training.grad_clip_scope=parameter"},
  };
  for (const auto& setting : settings) {
    auto with = [&](std::vector<std::string> extra) {
      extra.insert(extra.end(), setting.begin(), setting.end());
      extra.push_back("eval.sample_tokens=0");
      return extra;
    };
    Trainer ordinary(tiny_config(fresh_dir("ordinary"), with({})), "", nullptr);
    Trainer in_backward(tiny_config(fresh_dir("in_backward"), with({"optimizer.step_in_backward=true"})), "", nullptr);
    Trainer checkpointed(tiny_config(fresh_dir("in_backward_ckpt"), with({"optimizer.step_in_backward=true",
                                                                          "training.activation_checkpointing=true"})),
                         "", nullptr);
    const TrainResult a = ordinary.run(), b = in_backward.run(), c = checkpointed.run();
    EXPECT_EQ(a.losses, b.losses) << setting.back();
    EXPECT_EQ(a.losses, c.losses) << setting.back();
    EXPECT_EQ(a.val_loss, b.val_loss);
    expect_same_parameters(ordinary.model(), in_backward.model());
    expect_same_parameters(ordinary.model(), checkpointed.model());
    for (const auto& p : in_backward.model()->parameters()) EXPECT_FALSE(p.grad().defined()) << "freed in backward";
  }
}

// A non-finite loss stops before backward, so no parameter is updated; a run resumed from a
// step_in_backward checkpoint continues as one without it (the optimizer state is the same).
TEST(Trainer, StepInBackwardSkipsANonFiniteLossAndResumesAsTheOrdinaryStep) {
  {
    Trainer trainer(tiny_config(fresh_dir("sib_nonfinite"), {"training.grad_clip=0", "optimizer.step_in_backward=true",
                                                             "eval.sample_tokens=0"}),
                    "", nullptr);
    at::NoGradGuard no_grad;
    trainer.model()->named_parameters()["norm.weight"].fill_(std::numeric_limits<float>::quiet_NaN());
    const at::Tensor embedding = trainer.model()->named_parameters()["embed_tokens.weight"].clone();
    EXPECT_TRUE(trainer.train_step().skipped);
    EXPECT_TRUE(at::equal(embedding, trainer.model()->named_parameters()["embed_tokens.weight"]));
  }
  const std::string straight_dir = fresh_dir("sib_straight");
  Trainer straight(tiny_config(straight_dir, {"training.grad_clip=0", "eval.sample_tokens=0"}), "", nullptr);
  const TrainResult full = straight.run();
  const std::string stopped_dir = fresh_dir("sib_stopped");
  std::atomic<bool> stop{true};  // one step in backward, then a checkpoint
  const TrainResult first = Trainer(tiny_config(stopped_dir, {"training.grad_clip=0", "eval.sample_tokens=0",
                                                              "optimizer.step_in_backward=true"}),
                                    "", nullptr)
                                .run(&stop);
  Trainer second_half(tiny_config(stopped_dir, {"training.grad_clip=0", "eval.sample_tokens=0"}),
                      find_checkpoint(stopped_dir), nullptr);
  const TrainResult rest = second_half.run();
  std::vector<double> joined = first.losses;
  joined.insert(joined.end(), rest.losses.begin(), rest.losses.end());
  EXPECT_EQ(joined, full.losses);
  expect_same_parameters(second_half.model(), straight.model());
}

// training.master_weights: bf16 keeps the weight matrices in bf16 (norms and quantizer scales in
// fp32), trains close to fp32 master weights, and resumes exactly: the stochastic rounding is keyed
// by the seed, the parameter and its checkpointed step count, not by a stream that a restart loses.
TEST(Trainer, Bf16MasterWeightsTrainCloseToFp32AndResumeExactly) {
  const std::vector<std::string> bf16 = {"training.master_weights=bf16", "training.autocast=bf16",
                                         "eval.sample_tokens=0"};
  const std::string straight_dir = fresh_dir("bf16_straight");
  Trainer straight(tiny_config(straight_dir, bf16), "", nullptr);
  for (const auto& p : straight.model()->named_parameters())
    EXPECT_EQ(p.value().scalar_type(), uses_weight_decay(p.key(), p.value()) ? at::kBFloat16 : at::kFloat) << p.key();
  const TrainResult full = straight.run();
  Trainer fp32(tiny_config(fresh_dir("bf16_reference"), {"training.autocast=bf16", "eval.sample_tokens=0"}), "",
               nullptr);
  const TrainResult reference = fp32.run();
  EXPECT_NEAR(full.val_loss, reference.val_loss, 0.02 * reference.val_loss);
  EXPECT_LT(full.losses.back(), full.losses.front());

  const std::string stopped_dir = fresh_dir("bf16_stopped");
  std::atomic<bool> stop{true};
  const TrainResult first = Trainer(tiny_config(stopped_dir, bf16), "", nullptr).run(&stop);
  Trainer resumed(tiny_config(stopped_dir, bf16), find_checkpoint(stopped_dir), nullptr);
  const TrainResult rest = resumed.run();
  std::vector<double> joined = first.losses;
  joined.insert(joined.end(), rest.losses.begin(), rest.losses.end());
  EXPECT_EQ(joined, full.losses);
  expect_same_parameters(resumed.model(), straight.model());
}

// Was: lr 1e3 ran to "done" with NaN gradient norms, and its checkpoints exported. A non-finite
// step is skipped (weights and optimizer state untouched), K in a row stop the run, and a run that
// diverged never writes a checkpoint.
TEST(Trainer, NonFiniteStepsAreSkippedThenStopTheRunWithoutACheckpoint) {
  auto poison = [](Trainer& trainer) {
    at::NoGradGuard no_grad;
    trainer.model()->named_parameters()["norm.weight"].fill_(std::numeric_limits<float>::quiet_NaN());
  };
  {
    Trainer trainer(tiny_config(fresh_dir("nonfinite_skip"), {"training.max_nonfinite_steps=3", "eval.sample_tokens=0"}),
                    "", nullptr);
    poison(trainer);
    const at::Tensor embedding = trainer.model()->named_parameters()["embed_tokens.weight"].clone();
    EXPECT_TRUE(trainer.train_step().skipped);
    EXPECT_TRUE(trainer.train_step().skipped);
    EXPECT_TRUE(at::equal(embedding, trainer.model()->named_parameters()["embed_tokens.weight"]));  // no update
    try {
      trainer.train_step();
      FAIL() << "the third non-finite step in a row stops the run";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("3 non-finite steps in a row"), std::string::npos) << e.what();
    }
  }
  {
    Trainer trainer(tiny_config(fresh_dir("nonfinite_stop"), {"training.on_nonfinite=stop"}), "", nullptr);
    poison(trainer);
    EXPECT_THROW(trainer.train_step(), std::runtime_error);
  }
  // Skipping forever: the checkpoint at step 4 refuses the non-finite weights; without
  // checkpoints on the way, the final eval's NaN val loss stops the run before its checkpoint.
  for (const auto& [checkpoint_every, message] :
       {std::pair<std::string, std::string>{"4", "parameter norm.weight is not finite; not writing checkpoint step_000004"},
        {"0", "val loss is nan; the run diverged"}}) {
    const std::string out = fresh_dir("nonfinite_run" + checkpoint_every);
    Trainer trainer(tiny_config(out, {"training.max_nonfinite_steps=100", "eval.every=0",
                                      "checkpoint.every=" + checkpoint_every}),
                    "", nullptr);
    poison(trainer);
    try {
      trainer.run();
      FAIL() << "a diverged run must not finish";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
    EXPECT_TRUE(list_step_checkpoints(out + "/checkpoints").empty());
    EXPECT_FALSE(fs::exists(out + "/checkpoints/best"));
  }
}

// training.autocast: bf16 on the CPU (the same LibTorch mechanism as on CUDA): the forward runs its
// matmuls in bfloat16, weights and optimizer state stay float32, and the losses track fp32's.
TEST(Trainer, Bf16AutocastTrainsCloseToFp32AndKeepsFp32Weights) {
  std::vector<double> losses[2];
  for (int run = 0; run < 2; ++run) {
    Trainer trainer(tiny_config(fresh_dir("autocast" + std::to_string(run)),
                                {"checkpoint.every=0", "eval.sample_tokens=0",
                                 std::string("training.autocast=") + (run ? "bf16" : "none")}),
                    "", nullptr);
    for (int step = 0; step < 6; ++step) losses[run].push_back(trainer.train_step().loss);
    for (const auto& p : trainer.model()->parameters()) EXPECT_EQ(p.scalar_type(), at::kFloat);
    EXPECT_FALSE(at::autocast::is_autocast_enabled(at::kCPU)) << "the scope must switch autocast off again";
  }
  for (size_t i = 0; i < losses[0].size(); ++i) {
    EXPECT_TRUE(std::isfinite(losses[1][i]));
    EXPECT_NEAR(losses[1][i], losses[0][i], 0.05 * losses[0][i]) << "step " << i + 1;
  }
  EXPECT_LT(losses[1].back(), losses[1].front());
  EXPECT_NE(losses[0], losses[1]) << "bf16 matmuls must change the losses' low bits: autocast did not engage";
}

TEST(Trainer, WeightDecaySkipsNormsBiasesAndQuantizerParameters) {
  EXPECT_TRUE(uses_weight_decay("layers.0.mlp.up_proj.weight", at::zeros({4, 4})));
  EXPECT_FALSE(uses_weight_decay("layers.0.input_layernorm.weight", at::zeros({4})));
  EXPECT_FALSE(uses_weight_decay("layers.0.mlp.up_proj.weight_quantizer.scale", at::zeros({4, 1})));
}

TEST(Sampling, GreedyIsTopOneAndRespectsTheLength) {
  torch::manual_seed(0);
  LlamaConfig config;
  config.dim = 32, config.n_heads = 2, config.n_kv_heads = 2, config.ffn_dim = 64, config.max_seq_len = 8;
  LlamaModel model(config, Recipe::from_preset("bitnet_b158"));
  at::Generator g1 = at::make_generator<at::CPUGeneratorImpl>(1), g2 = at::make_generator<at::CPUGeneratorImpl>(2);
  const auto greedy = generate(model, {1, 2, 3}, {12, 0.0, 0}, g1);  // longer than max_seq_len: the window slides
  const auto top1 = generate(model, {1, 2, 3}, {12, 1.0, 1}, g2);
  EXPECT_EQ(greedy.size(), 15u);
  EXPECT_EQ(greedy, top1);
  EXPECT_EQ(std::vector<int32_t>(greedy.begin(), greedy.begin() + 3), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_TRUE(model->is_training());  // mode restored
}

TEST(Distillation, KlMatchesTheFormulaAndItsGradient) {
  const at::Tensor student = at::randn({3, 5, 7}, at::kDouble).requires_grad_();
  const at::Tensor teacher = at::randn({3, 5, 7}, at::kDouble);
  const double T = 2.0;
  EXPECT_NEAR(distillation_loss(teacher, teacher, T).item<double>(), 0.0, 1e-7);
  const at::Tensor loss = distillation_loss(student, teacher, T);
  const at::Tensor p_t = at::softmax(teacher / T, -1), p_s = at::softmax(student.detach() / T, -1);
  const double expected = (p_t * (p_t.log() - p_s.log())).sum(-1).mean().item<double>() * T * T;
  EXPECT_NEAR(loss.item<double>(), expected, 1e-5);
  loss.backward();
  // d/ds of T^2 * mean_tokens KL = T * (p_s - p_t) / tokens.
  EXPECT_TRUE(at::allclose(student.grad().to(at::kDouble), T * (p_s - p_t) / 15.0, 1e-4, 1e-6));
  EXPECT_THROW(distillation_loss(student, at::randn({3, 5, 8}), T), c10::Error);
}

}  // namespace ternary
