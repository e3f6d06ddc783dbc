// data.text_files and ternary-tokenizer --input: each entry is a file, a directory (every regular
// file under it, recursively, hidden ones skipped) or a glob pattern (glob(3): *, ?, [...]).
// The result is sorted within each entry, in entry order, without duplicates. LibTorch-free.
#pragma once

#include <string>
#include <vector>

namespace ternary {

// Throws std::runtime_error "<what>: '<entry>' ..." for an entry that names nothing, naming the fix.
std::vector<std::string> expand_text_files(const std::vector<std::string>& entries,
                                           const std::string& what = "data.text_files");

}  // namespace ternary
