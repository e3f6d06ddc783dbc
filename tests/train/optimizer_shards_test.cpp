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

// The ranges' states as a shard file holds them, read back.
std::vector<SavedRange> saved_and_read_back(const Blockwise8bitOptimizer& optimizer,
                                            const std::vector<StateRange>& ranges) {
  torch::serialize::OutputArchive archive;
  save_range_states(archive, optimizer, ranges);
  std::stringstream bytes;
  archive.save_to(bytes);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  return read_range_states(in, "test");
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
  restore_range_states(c, {{"w", 0, rebuilt}}, saved_and_read_back(b, ranges));
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
  const auto saved = saved_and_read_back(a, halves);
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

// A shard whose stored tensors do not fit its range is refused, naming the file and the range.
TEST(OptimizerShards, AShardThatDoesNotFitItsRangeIsAClearError) {
  auto archive_with = [](int64_t offset, int64_t length, const at::Tensor& codes, const at::Tensor& absmax) {
    torch::serialize::OutputArchive entry, archive;
    entry.write("name", c10::IValue(std::string("w")));
    entry.write("offset", c10::IValue(offset));
    entry.write("length", c10::IValue(length));
    entry.write("step", c10::IValue(int64_t{2}));
    entry.write("states", c10::IValue(int64_t{1}));
    entry.write("state1", codes);
    entry.write("absmax1", absmax);
    entry.write("state2", at::empty({0}));
    entry.write("absmax2", at::empty({0}));
    archive.write("range0", entry);
    archive.write("ranges", c10::IValue(int64_t{1}));
    std::stringstream bytes;
    archive.save_to(bytes);
    return bytes.str();
  };
  auto error_of = [](const std::string& bytes) -> std::string {
    torch::serialize::InputArchive in;
    in.load_from(bytes.data(), bytes.size());
    try {
      read_range_states(in, "ckpt/optimizer_shard_0_of_2.pt");
    } catch (const CheckpointError& e) {
      return e.what();
    }
    return "accepted";
  };
  const at::Tensor codes = at::zeros({300}, at::kByte), absmax = at::zeros({2});
  EXPECT_EQ(error_of(archive_with(256, 300, codes, absmax)), "accepted");
  EXPECT_NE(error_of(archive_with(256, 299, codes, absmax)).find("ckpt/optimizer_shard_0_of_2.pt: the state of w "
                                                                 "[256, +299) has values of the wrong size"),
            std::string::npos);
  EXPECT_NE(error_of(archive_with(256, 300, codes, at::zeros({1}))).find("wrong number of block scales"),
            std::string::npos);
  EXPECT_NE(error_of(archive_with(100, 300, codes, absmax)).find("impossible range"), std::string::npos);
  EXPECT_NE(error_of(archive_with(-256, 300, codes, absmax)).find("impossible range"), std::string::npos);
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
