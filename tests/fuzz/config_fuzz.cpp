// The training config (every section, --set overrides) and recipes. Oracle: a config that parses
// dumps to text that parses back to the same config (what every checkpoint relies on to resume).
#include "fuzz_input.h"
#include "quantizers/recipe.h"
#include "train/train_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(ternary::fuzz::as_text(data, size));
  ternary::fuzz::expect_clear_error_or_success([&] {
    const ternary::TrainConfig config = ternary::TrainConfig::parse(text, "fuzz.yaml");
    if (!(ternary::TrainConfig::parse(config.to_yaml(), "dumped.yaml") == config)) __builtin_trap();
  });
  ternary::fuzz::expect_clear_error_or_success([&] { ternary::Recipe::from_yaml_string(text, "fuzz.yaml"); });
  return 0;
}
