#include "quantizers/presets.h"

#include <gtest/gtest.h>

#include <set>

namespace ternary {

TEST(Presets, TheNamesUsersKnowExistAndValidate) {
  std::set<std::string> names;
  for (const Preset& p : all_presets()) {
    names.insert(p.name);
    ASSERT_TRUE(p.weight || p.activation) << p.name;
    if (p.weight) EXPECT_NO_THROW(p.weight->validate()) << p.name;
    if (p.activation) EXPECT_NO_THROW(p.activation->validate()) << p.name;
    EXPECT_FALSE(p.summary.empty());
  }
  for (const char* required : {"bitnet_b158", "twn", "ttq", "lsq_ternary", "int8_per_token", "int4_group128"})
    EXPECT_TRUE(names.count(required)) << required;
}

TEST(Presets, BitnetPairsTernaryWeightsWithInt8Tokens) {
  const Preset& p = find_preset("bitnet_b158");
  EXPECT_EQ(p.weight->levels, Levels::ternary());
  EXPECT_EQ(p.weight->scale.statistic, ScaleStatistic::kAbsMean);
  EXPECT_EQ(p.weight->granularity, Granularity::tensor());
  EXPECT_EQ(p.activation->levels, Levels::signed_int(8));
  EXPECT_EQ(p.activation->granularity, Granularity::token());
  EXPECT_EQ(p.activation->scale.statistic, ScaleStatistic::kAbsMax);
}

TEST(Presets, SingleRolePresetServesEitherSlot) {
  EXPECT_EQ(preset_spec("int8_per_token", true), preset_spec("int8_per_token", false));
  EXPECT_EQ(preset_spec("twn", false).preset, "twn");
}

TEST(Presets, UnknownNameListsTheKnownOnes) {
  try {
    find_preset("bitnet");
    FAIL();
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown quantizer preset 'bitnet'"), std::string::npos);
    EXPECT_NE(msg.find("bitnet_b158"), std::string::npos);
  }
}

}  // namespace ternary
