#include "quantizers/recipe.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "quantizers/presets.h"

namespace ternary {
namespace {

std::string error_of(const std::string& yaml) {
  try {
    Recipe::from_yaml_string(yaml, "recipe.yaml");
  } catch (const RecipeError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Recipe, FirstMatchWinsAndNoneKeepsFullPrecision) {
  const Recipe recipe = Recipe::from_yaml_string(R"(
rules:
  - match: lm_head
    preset: none
  - match: "layers.*.mlp.*"
    weight: twn
    input: none
  - match: ["*.q_proj", "*.k_proj"]
    weight: {preset: lsq_ternary}
  - match: "*"
    preset: bitnet_b158
)");
  ASSERT_EQ(recipe.rules.size(), 4u);
  EXPECT_TRUE(recipe.match("lm_head")->keep_full_precision);
  const RecipeRule* mlp = recipe.match("layers.3.mlp.up_proj");
  EXPECT_EQ(mlp->slots.weight->preset, "twn");
  EXPECT_FALSE(mlp->slots.input);
  EXPECT_EQ(mlp->origin, "<recipe>:5");
  EXPECT_EQ(recipe.match("layers.0.attn.k_proj")->slots.weight->preset, "lsq_ternary");
  const RecipeRule* other = recipe.match("layers.0.attn.o_proj");
  EXPECT_EQ(*other->slots.weight, preset_spec("bitnet_b158", true));
  EXPECT_EQ(*other->slots.input, preset_spec("bitnet_b158", false));
  EXPECT_FALSE(other->slots.output);
}

TEST(Recipe, ExplicitPartsAndPresetOverrides) {
  const Recipe recipe = Recipe::from_yaml_string(R"(
- match: "*"
  weight: {levels: int, bits: 4, granularity: group, group_size: 64, scale: absmax, gradient: clipped_ste}
  input: {preset: int8_per_token, bits: 6}
  output: {levels: uint, bits: 8, granularity: tensor, scale: absmax}
)");
  const QuantSlots& s = recipe.match("x")->slots;
  EXPECT_EQ(s.weight->levels, Levels::signed_int(4));
  EXPECT_EQ(s.weight->granularity, Granularity::group(64));
  EXPECT_EQ(s.weight->gradient, GradientEstimator::kClippedSte);
  EXPECT_EQ(s.input->levels.bits, 6);
  EXPECT_EQ(s.input->granularity, Granularity::token());
  EXPECT_TRUE(s.input->preset.empty());  // overridden, no longer the named preset
  EXPECT_EQ(s.output->levels, Levels::unsigned_int(8));
}

TEST(Recipe, UnmatchedNameGivesNull) {
  const Recipe recipe = Recipe::from_yaml_string("- {match: 'a.*', preset: twn}\n");
  EXPECT_EQ(recipe.match("b.c"), nullptr);
}

TEST(Recipe, FromPresetKeepsEmbeddingsAndHeadFullPrecision) {
  const Recipe recipe = Recipe::from_preset("bitnet_b158");
  EXPECT_TRUE(recipe.match("lm_head")->keep_full_precision);
  EXPECT_TRUE(recipe.match("model.embed_tokens")->keep_full_precision);
  EXPECT_FALSE(recipe.match("layers.0.mlp.up_proj")->keep_full_precision);
}

// The C++ API agrees with the config: `none` is full precision, and is named among the choices.
TEST(Recipe, FromPresetNoneIsTheEmptyRecipe) {
  EXPECT_TRUE(Recipe::from_preset("none").rules.empty());
  try {
    Recipe::from_preset("ternary");
    FAIL();
  } catch (const RecipeError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown quantizer preset 'ternary'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("or none for full precision"), std::string::npos) << msg;
  }
  bool caught_as_config_error = false;  // a recipe error is a config error
  try {
    Recipe::from_yaml_string("- {match: '*', preset: tern}\n", "r.yaml");
  } catch (const ConfigError& e) {
    caught_as_config_error = true;
    EXPECT_NE(dynamic_cast<const RecipeError*>(&e), nullptr);
  }
  EXPECT_TRUE(caught_as_config_error);
}

TEST(Recipe, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(error_of("- match: '*'\n  weight: {levels: ternary, granularty: channel}\n"),
            "recipe.yaml:2: unknown key 'granularty' in 'weight' quantizer (expected one of: preset, levels, bits, "
            "narrow_range, granularity, group_size, scale, learned_scale, asymmetric_scale, eps, threshold, "
            "threshold_ratio, temperature, gradient)");
  EXPECT_EQ(error_of("- match: '*'\n  preset: bitnet\n").rfind("recipe.yaml:2: unknown quantizer preset 'bitnet'", 0),
            0u);
  EXPECT_EQ(error_of("- match: '*'\n  weight: {levels: int}\n"), "recipe.yaml:2: levels 'int' needs 'bits'");
  EXPECT_EQ(error_of("- match: '*'\n  weight: {levels: int, bits: eight}\n"),
            "recipe.yaml:2: 'bits' must be an integer, got 'eight'");
  EXPECT_EQ(error_of("- match: '*'\n  weight: {granularity: rows}\n"),
            "recipe.yaml:2: unknown granularity 'rows' (expected one of: channel, group, tensor, token)");
  EXPECT_EQ(error_of("- match: '*'\n  wieght: twn\n").rfind("recipe.yaml:2: unknown key 'wieght' in recipe rule", 0),
            0u);
  EXPECT_EQ(error_of("- preset: twn\n"),
            "recipe.yaml:1: recipe rule has no 'match' (a glob such as \"*\" or \"layers.*.mlp.*\")");
  EXPECT_EQ(error_of("- match: '*'\n  weight: {levels: int, bits: 8, threshold: learned}\n")
                .rfind("recipe.yaml:2: 'weight' quantizer: threshold 'learned' applies to ternary levels only", 0),
            0u);
  EXPECT_EQ(error_of("- match: '*'\n  preset: none\n  weight: twn\n")
                .rfind("recipe.yaml:2: 'preset: none' keeps the module in full precision", 0),
            0u);
  EXPECT_EQ(error_of("rules: [\n").rfind("recipe.yaml:", 0), 0u);
  EXPECT_NE(error_of("rules: [\n").find("YAML syntax error"), std::string::npos);
  EXPECT_EQ(error_of("layers: []\n").rfind("recipe.yaml:1: unknown key 'layers' in recipe", 0), 0u);
}

TEST(Recipe, MissingFileSaysSo) {
  try {
    Recipe::from_yaml_file("/nonexistent/recipe.yaml");
    FAIL();
  } catch (const RecipeError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/recipe.yaml: cannot open the recipe file (check the path)");
  }
}

TEST(Recipe, LoadsFromFile) {
  const std::string path = ::testing::TempDir() + "/recipe_test.yaml";
  std::ofstream(path) << "rules:\n  - match: '*'\n    preset: ttq\n";
  EXPECT_EQ(Recipe::from_yaml_file(path).match("fc")->slots.weight->preset, "ttq");
  std::remove(path.c_str());
}

}  // namespace ternary
