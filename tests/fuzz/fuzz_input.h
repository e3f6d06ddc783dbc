// Shared by the fuzz targets: the input as text, and the errors a loader may answer bad input with.
// Anything else escaping a loader (std::bad_alloc, std::length_error, a crash, a sanitizer report)
// is a finding: it reaches libFuzzer, which saves the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ternary::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs `load`; the project's documented errors for bad input are the expected outcome.
template <typename Load>
void expect_clear_error_or_success(Load load) {
  try {
    load();
  } catch (const std::runtime_error&) {      // file and format errors ("<path>: ...")
  } catch (const std::invalid_argument&) {   // ConfigError, RecipeError, bad arguments
  } catch (const std::out_of_range&) {       // a token id outside a vocabulary
  }
}

}  // namespace ternary::fuzz
