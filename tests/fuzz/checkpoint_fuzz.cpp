// A checkpoint's manifest.json, and the pre-check of its torch archives (zip directory and the
// version record LibTorch would abort on). Inputs starting with "PK" are archives.
#include "fuzz_input.h"
#include "train/checkpoint_manifest.h"
#include "train/torch_archive_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = ternary::fuzz::as_text(data, size);
  ternary::fuzz::expect_clear_error_or_success([&] {
    if (input.substr(0, 2) == "PK") ternary::check_torch_archive(input, "fuzz/model.pt");
    else ternary::parse_checkpoint_manifest(input, "fuzz/manifest.json", {"model.pt", "config.yaml"});
  });
  return 0;
}
