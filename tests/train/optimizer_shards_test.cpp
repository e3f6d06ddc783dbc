// The sharded optimizer's foundation: stepping block-aligned pieces of a parameter is bit for bit
// stepping the whole parameter, and saved piece states can be cut again for any other split.
#include "train/optimizer_shards.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/serialize/archive.h>

#include "optim/adamw8bit.h"
#include "train/checkpoint.h"
#include "train/checkpoint_manifest.h"

namespace ternary {
namespace {

constexpr int64_t kNumel = 1000;  // three whole blocks of 256 and a partial one

AdamW8bit whole_optimizer(const at::Tensor& parameter) {
  return AdamW8bit({parameter}, AdamW8bitOptions(1e-2).weight_decay(0.01).min_8bit_size(0));
}

// Pieces [cuts[i], cuts[i+1]) of `parameter`, as views, each its own optimizer parameter.
std::vector<StateRange> pieces_of(const at::Tensor& parameter, const std::vector<int64_t>& cuts) {
  std::vector<StateRange> ranges;
  for (size_t i = 0; i + 1 < cuts.size(); ++i)
    ranges.push_back({"w", cuts[i], parameter.detach().view(-1).narrow(0, cuts[i], cuts[i + 1] - cuts[i])});
  return ranges;
}

AdamW8bit piece_optimizer(const std::vector<StateRange>& ranges) {
  std::vector<at::Tensor> values;
  for (const auto& r : ranges) values.push_back(r.values);
  return AdamW8bit(values, AdamW8bitOptions(1e-2).weight_decay(0.01).min_8bit_size(0));
}

void step_with(torch::optim::Optimizer& optimizer, const std::vector<StateRange>& ranges, const at::Tensor& grad) {
  for (const auto& r : ranges) r.values.mutable_grad() = grad.view(-1).narrow(0, r.offset, r.values.numel()).clone();
  optimizer.step();
}

TEST(OptimizerShards, SteppingBlockAlignedPiecesIsSteppingTheWholeParameter) {
  at::manual_seed(3);
  const at::Tensor start = at::randn({kNumel});
  at::Tensor whole = start.clone(), pieced = start.clone();
  AdamW8bit a = whole_optimizer(whole);
  const std::vector<StateRange> ranges = pieces_of(pieced, {0, 256, 768, kNumel});
  AdamW8bit b = piece_optimizer(ranges);
  for (int step = 0; step < 5; ++step) {
    const at::Tensor grad = at::randn({kNumel});
    whole.mutable_grad() = grad.clone();
    a.step();
    step_with(b, ranges, grad);
  }
  EXPECT_TRUE(at::equal(whole, pieced));
  // The pieces' codes and block scales, joined, are the whole parameter's.
  const auto joined = whole_parameter_states(a, {{"w", 0, whole}});
  ASSERT_EQ(joined.size(), 1u);
  at::Tensor rebuilt = start.clone();
  AdamW8bit c = whole_optimizer(rebuilt);
  torch::serialize::OutputArchive archive;
  save_range_states(archive, b, ranges);
  std::stringstream bytes;
  archive.save_to(bytes);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  restore_range_states(c, {{"w", 0, rebuilt}}, read_range_states(in, "test"));
  const auto& restored = static_cast<const Blockwise8bitParamState&>(*c.state().begin()->second);
  EXPECT_TRUE(at::equal(restored.state1(), joined[0].state.state1()));
  EXPECT_TRUE(at::equal(restored.absmax1(), joined[0].state.absmax1()));
  EXPECT_TRUE(at::equal(restored.state2(), joined[0].state.state2()));
  EXPECT_TRUE(at::equal(restored.absmax2(), joined[0].state.absmax2()));
  EXPECT_EQ(restored.step(), 5);
}

TEST(OptimizerShards, SavedPiecesAreCutAgainForAnotherSplit) {
  at::manual_seed(4);
  at::Tensor two = at::randn({kNumel});
  at::Tensor three = two.clone(), whole = two.clone();
  const auto halves = pieces_of(two, {0, 512, kNumel});
  AdamW8bit a = piece_optimizer(halves);
  AdamW8bit reference = whole_optimizer(whole);
  for (int step = 0; step < 3; ++step) {
    const at::Tensor grad = at::randn({kNumel});
    step_with(a, halves, grad);
    whole.mutable_grad() = grad.clone();
    reference.step();
  }
  torch::serialize::OutputArchive archive;
  save_range_states(archive, a, halves);
  std::stringstream bytes;
  archive.save_to(bytes);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  const auto saved = read_range_states(in, "test");
  const auto thirds = pieces_of(three, {0, 256, 512, kNumel});
  three.copy_(two);
  AdamW8bit b = piece_optimizer(thirds);
  restore_range_states(b, thirds, saved);
  // Re-cut, the next steps still match the unsharded optimizer exactly.
  for (int step = 0; step < 3; ++step) {
    const at::Tensor grad = at::randn({kNumel});
    step_with(b, thirds, grad);
    whole.mutable_grad() = grad.clone();
    reference.step();
  }
  EXPECT_TRUE(at::equal(three, whole));

  // A range the saved pieces only partly cover is an error naming the parameter.
  at::Tensor other = at::zeros({kNumel});
  const auto single = pieces_of(other, {0, kNumel});
  AdamW8bit c = piece_optimizer(single);
  try {
    restore_range_states(c, single, {saved.front()});
    FAIL() << "a partly covered range was accepted";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("parameter w [0, 1000) is not fully covered"), std::string::npos) << e.what();
  }
}

TEST(OptimizerShards, ShardFileNamesAndTheManifestsPlainNames) {
  EXPECT_EQ(optimizer_shard_file(1, 3), "optimizer_shard_1_of_3.pt");
  EXPECT_TRUE(is_optimizer_shard_file("optimizer_shard_1_of_3.pt"));
  EXPECT_FALSE(is_optimizer_shard_file("optimizer.pt"));
  EXPECT_TRUE(plain_file_name("optimizer_shard_0_of_2.pt"));
  for (const char* bad : {"../model.pt", "a/b.pt", ".hidden", "", "x y"}) EXPECT_FALSE(plain_file_name(bad)) << bad;
  const std::string manifest = checkpoint_manifest_json(3, {{"model.pt", {1, "0000000000000000"}},
                                                             {"optimizer_shard_0_of_2.pt", {2, "0000000000000001"}}});
  EXPECT_EQ(parse_checkpoint_manifest(manifest, "m.json", {"model.pt"}).size(), 2u);
  std::string escaping = manifest;
  escaping.replace(escaping.find("optimizer_shard_0_of_2.pt"), 25, "../outside_the_checkpoint");
  EXPECT_THROW(parse_checkpoint_manifest(escaping, "m.json", {"model.pt"}), std::runtime_error);
}

}  // namespace
}  // namespace ternary
