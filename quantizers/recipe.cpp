#include "quantizers/recipe.h"

#include <fnmatch.h>

#include <algorithm>
#include <fstream>

#include "quantizers/presets.h"
#include "quantizers/yaml_reader.h"

namespace ternary {
namespace {

const std::vector<std::string> kRuleKeys = {"match", "preset", "weight", "input", "output"};
const std::vector<std::string> kSpecKeys = {"preset",      "levels",          "bits",      "narrow_range",
                                            "granularity", "group_size",      "scale",     "learned_scale",
                                            "asymmetric_scale", "eps",        "threshold", "threshold_ratio",
                                            "temperature", "gradient"};

QuantizerSpec parse_spec_map(const YamlReader& ctx, const YAML::Node& node, const std::string& slot, bool for_weight) {
  ctx.check_keys(node, kSpecKeys, "'" + slot + "' quantizer");
  QuantizerSpec spec;
  if (node["preset"]) {
    const auto name = ctx.scalar<std::string>(node["preset"], "preset", "a preset name");
    try {
      spec = preset_spec(name, for_weight);
    } catch (const std::invalid_argument& e) {
      ctx.fail(node["preset"], e.what());
    }
  }
  const bool overridden = node.size() > (node["preset"] ? 1u : 0u);
  if (overridden) spec.preset.clear();  // no longer the named preset
  if (const auto n = node["levels"]) {
    const auto kind = ctx.choice<LevelKind>(n, "levels", {{"ternary", LevelKind::kTernary},
                                                          {"binary", LevelKind::kBinary},
                                                          {"int", LevelKind::kSignedInt},
                                                          {"uint", LevelKind::kUnsignedInt}});
    spec.levels = kind == LevelKind::kTernary ? Levels::ternary()
                  : kind == LevelKind::kBinary ? Levels::binary()
                                               : Levels{kind, 0, false};
    if ((kind == LevelKind::kSignedInt || kind == LevelKind::kUnsignedInt) && !node["bits"])
      ctx.fail(n, "levels '" + n.Scalar() + "' needs 'bits'");
  }
  if (const auto n = node["bits"]) spec.levels.bits = ctx.scalar<int>(n, "bits", "an integer");
  if (const auto n = node["narrow_range"]) spec.levels.narrow_range = ctx.scalar<bool>(n, "narrow_range", "true or false");
  if (const auto n = node["granularity"]) {
    spec.granularity.kind = ctx.choice<GranularityKind>(n, "granularity", {{"tensor", GranularityKind::kTensor},
                                                                           {"channel", GranularityKind::kChannel},
                                                                           {"group", GranularityKind::kGroup},
                                                                           {"token", GranularityKind::kToken}});
    if (spec.granularity.kind == GranularityKind::kGroup && !node["group_size"] && spec.granularity.group_size <= 0)
      ctx.fail(n, "granularity 'group' needs 'group_size'");
  }
  if (const auto n = node["group_size"]) spec.granularity.group_size = ctx.scalar<int64_t>(n, "group_size", "an integer");
  if (const auto n = node["scale"])
    spec.scale.statistic = ctx.choice<ScaleStatistic>(n, "scale", {{"absmean", ScaleStatistic::kAbsMean},
                                                                   {"absmax", ScaleStatistic::kAbsMax},
                                                                   {"twn_mean", ScaleStatistic::kTwnMean}});
  if (const auto n = node["learned_scale"]) spec.scale.learned = ctx.scalar<bool>(n, "learned_scale", "true or false");
  if (const auto n = node["asymmetric_scale"])
    spec.scale.asymmetric = ctx.scalar<bool>(n, "asymmetric_scale", "true or false");
  if (const auto n = node["eps"]) spec.scale.eps = ctx.scalar<double>(n, "eps", "a number");
  if (const auto n = node["threshold"])
    spec.threshold.kind = ctx.choice<ThresholdKind>(n, "threshold", {{"implicit", ThresholdKind::kImplicit},
                                                                     {"mean_ratio", ThresholdKind::kMeanRatio},
                                                                     {"max_ratio", ThresholdKind::kMaxRatio},
                                                                     {"learned", ThresholdKind::kLearned}});
  if (const auto n = node["threshold_ratio"]) spec.threshold.ratio = ctx.scalar<double>(n, "threshold_ratio", "a number");
  if (const auto n = node["temperature"]) spec.threshold.temperature = ctx.scalar<double>(n, "temperature", "a number");
  if (const auto n = node["gradient"])
    spec.gradient = ctx.choice<GradientEstimator>(n, "gradient", {{"ste", GradientEstimator::kSte},
                                                                  {"clipped_ste", GradientEstimator::kClippedSte},
                                                                  {"lsq", GradientEstimator::kLsq}});
  try {
    spec.validate();
  } catch (const std::invalid_argument& e) {
    ctx.fail(node, "'" + slot + "' quantizer: " + e.what());
  }
  return spec;
}

// A slot is `none`, a preset name, or a map of parts.
std::optional<QuantizerSpec> parse_slot(const YamlReader& ctx, const YAML::Node& node, const std::string& slot,
                                        bool for_weight) {
  if (node.IsMap()) return parse_spec_map(ctx, node, slot, for_weight);
  if (!node.IsScalar()) ctx.fail(node, "'" + slot + "' must be 'none', a preset name or a map of quantizer parts");
  const auto name = node.Scalar();
  if (name == "none") return std::nullopt;
  try {
    return preset_spec(name, for_weight);
  } catch (const std::invalid_argument& e) {
    ctx.fail(node, e.what());
  }
}

RecipeRule parse_rule(const YamlReader& ctx, const YAML::Node& node) {
  if (!node.IsMap()) ctx.fail(node, "each recipe rule must be a map with 'match' and quantizers");
  ctx.check_keys(node, kRuleKeys, "recipe rule");
  RecipeRule rule;
  rule.origin = ctx.at(node);
  const auto match = node["match"];
  if (!match) ctx.fail(node, "recipe rule has no 'match' (a glob such as \"*\" or \"layers.*.mlp.*\")");
  if (match.IsSequence()) {
    for (const auto& p : match) rule.patterns.push_back(ctx.scalar<std::string>(p, "match", "a glob string"));
  } else {
    rule.patterns.push_back(ctx.scalar<std::string>(match, "match", "a glob string or a list of them"));
  }
  if (rule.patterns.empty()) ctx.fail(match, "'match' lists no patterns");
  if (const auto preset = node["preset"]) {
    const auto name = ctx.scalar<std::string>(preset, "preset", "a preset name or none");
    if (name == "none") {
      rule.keep_full_precision = true;
      if (node["weight"] || node["input"] || node["output"])
        ctx.fail(preset, "'preset: none' keeps the module in full precision; remove its weight/input/output");
      return rule;
    }
    try {
      const Preset& p = find_preset(name);
      rule.slots.weight = p.weight;
      rule.slots.input = p.activation;
    } catch (const std::invalid_argument& e) {
      ctx.fail(preset, std::string(e.what()) + "; or none for full precision");
    }
  }
  if (const auto n = node["weight"]) rule.slots.weight = parse_slot(ctx, n, "weight", true);
  if (const auto n = node["input"]) rule.slots.input = parse_slot(ctx, n, "input", false);
  if (const auto n = node["output"]) rule.slots.output = parse_slot(ctx, n, "output", false);
  return rule;
}

}  // namespace

bool RecipeRule::matches(const std::string& module_name) const {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return fnmatch(p.c_str(), module_name.c_str(), 0) == 0; });
}

namespace {

// YamlReader reports ConfigErrors; a recipe's own entry points report them as RecipeErrors.
template <typename Parse>
Recipe as_recipe_errors(Parse parse) {
  try {
    return parse();
  } catch (const RecipeError&) {
    throw;
  } catch (const ConfigError& e) {
    throw RecipeError(e.what());
  }
}

Recipe parse_recipe(const YAML::Node& node, const std::string& source_name) {
  const YamlReader ctx(source_name);
  YAML::Node rules = node;
  if (node.IsMap()) {
    ctx.check_keys(node, {"rules"}, "recipe");
    rules = node["rules"];
    if (!rules) ctx.fail(node, "recipe has no 'rules' list");
  }
  if (!rules.IsSequence()) ctx.fail(rules, "recipe rules must be a list of {match: ..., ...} maps");
  Recipe recipe;
  for (const auto& rule : rules) recipe.rules.push_back(parse_rule(ctx, rule));
  return recipe;
}

}  // namespace

Recipe Recipe::from_yaml_node(const YAML::Node& node, const std::string& source_name) {
  return as_recipe_errors([&] { return parse_recipe(node, source_name); });
}

Recipe Recipe::from_yaml_string(const std::string& text, const std::string& source_name) {
  return as_recipe_errors([&] { return parse_recipe(YamlReader(source_name).load(text), source_name); });
}

Recipe Recipe::from_yaml_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw RecipeError(path + ": cannot open the recipe file (check the path)");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return from_yaml_string(text, path);
}

Recipe Recipe::from_preset(const std::string& preset) {
  if (preset == "none") return Recipe{};
  const Preset& p = [&]() -> const Preset& {
    try {
      return find_preset(preset);
    } catch (const std::invalid_argument& e) {
      throw RecipeError(std::string(e.what()) + "; or none for full precision");
    }
  }();
  Recipe recipe;
  recipe.rules.push_back({{"lm_head", "*.lm_head", "*embed*"}, true, {}, "default"});
  recipe.rules.push_back({{"*"}, false, {p.weight, p.activation, std::nullopt}, "preset " + preset});
  return recipe;
}

const RecipeRule* Recipe::match(const std::string& module_name) const {
  for (const RecipeRule& rule : rules)
    if (rule.matches(module_name)) return &rule;
  return nullptr;
}

}  // namespace ternary
