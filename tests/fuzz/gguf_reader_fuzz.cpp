// The GGUF reader and everything the runtime builds from a file: metadata, tensors, the model
// (shape caps, repacking), its tokenizer, and one forward step.
#include <unistd.h>

#include <fstream>

#include "fuzz_input.h"
#include "runtime/gguf_tokenizer.h"
#include "runtime/llama_runtime.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/ternary_fuzz_" + std::to_string(::getpid()) + ".gguf";
  std::ofstream(path, std::ios::binary | std::ios::trunc) << ternary::fuzz::as_text(data, size);
  ternary::fuzz::expect_clear_error_or_success([&] {
    ternary::runtime::LlamaRuntime model(path);
    const ternary::Tokenizer tokenizer = ternary::runtime::tokenizer_from_gguf(model.file());
    const std::vector<int32_t> ids = tokenizer.encode("To be");
    if (!ids.empty() && ids.front() < model.shape().vocab_size) model.forward({ids.front()});
  });
  return 0;
}
