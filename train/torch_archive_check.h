// A pre-check of the torch archives in a checkpoint (model.pt, optimizer.pt, trainer.pt are zip
// files). LibTorch parses an archive's `version` record with a fatal assertion that aborts the
// process on a non-numeric value, so that record is checked here first, where a damaged file is an
// ordinary error naming it. LibTorch-free (a fuzz target runs it).
#pragma once

#include <string_view>

namespace ternary {

// Throws std::runtime_error ("<path>: ...") when the zip directory is malformed or a `version`
// record is not a plain decimal number.
void check_torch_archive(std::string_view bytes, const std::string& path);

}  // namespace ternary
