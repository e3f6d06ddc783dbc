// manifest.json of a checkpoint directory: format, version, step, and the size and FNV-1a hash
// of every file. Written and parsed here only; LibTorch-free, so a fuzz target can run the parser.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ternary {

struct ManifestFile {
  uint64_t bytes = 0;
  std::string fnv1a;  // 16 hex digits
};

// The manifest text for these files (name -> size and hash).
std::string checkpoint_manifest_json(int64_t step, const std::map<std::string, ManifestFile>& files);

// Every listed file (the `required_files` must be there; others, such as optimizer shards, may),
// each checked for type and for a plain file name (no path: [A-Za-z0-9_.-], not starting with '.').
// Throws std::runtime_error naming `manifest_path` and what is wrong (not JSON, another format or
// version, a missing file).
// True for a name a manifest may list: no directory part, no leading dot, at most 128 characters.
bool plain_file_name(std::string_view name);

std::map<std::string, ManifestFile> parse_checkpoint_manifest(std::string_view text, const std::string& manifest_path,
                                                              const std::vector<std::string>& required_files);

}  // namespace ternary
