#include "train/checkpoint_manifest.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>

#include "common/fnv1a.h"

namespace ternary {
namespace {

constexpr const char* kFormat = "ternary-engine checkpoint";
constexpr int kVersion = 1;

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

}  // namespace

std::string checkpoint_manifest_json(int64_t step, const std::map<std::string, ManifestFile>& files) {
  nlohmann::json manifest = {{"format", kFormat}, {"version", kVersion}, {"step", step}};
  for (const auto& [name, file] : files) manifest["files"][name] = {{"bytes", file.bytes}, {"fnv1a", file.fnv1a}};
  return manifest.dump(2) + "\n";
}

bool plain_file_name(std::string_view name) {
  if (name.empty() || name.size() > 128 || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

std::map<std::string, ManifestFile> parse_checkpoint_manifest(std::string_view text, const std::string& manifest_path,
                                                              const std::vector<std::string>& required_files) {
  const auto manifest = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded()) fail(manifest_path + " is corrupt (not JSON); use another checkpoint");
  if (!manifest.is_object() || !manifest.contains("format") || manifest.at("format") != kFormat)
    fail(manifest_path + " is not a ternary-engine checkpoint manifest");
  const nlohmann::json& version = manifest.contains("version") ? manifest.at("version") : nlohmann::json();
  if (!version.is_number_integer() || version.get<int64_t>() != kVersion)
    fail(manifest_path + ": checkpoint version " + version.dump() + " is not supported (this build reads version " +
         std::to_string(kVersion) + ")");
  if (!manifest.contains("files") || !manifest.at("files").is_object())
    fail(manifest_path + " is corrupt ('files' is missing or not an object); use another checkpoint");
  const nlohmann::json& listed = manifest.at("files");
  for (const auto& name : required_files)
    if (!listed.contains(name)) fail(manifest_path + " does not list " + name);
  constexpr size_t kMaxFiles = 1 << 16;  // the fixed files plus one optimizer shard per rank
  if (listed.size() > kMaxFiles) fail(manifest_path + " lists over " + std::to_string(kMaxFiles) + " files (corrupt)");
  std::map<std::string, ManifestFile> files;
  for (const auto& [name, entry] : listed.items()) {
    if (!plain_file_name(name))
      fail(manifest_path + " lists '" + name + "', which is not a plain file name (corrupt; use another checkpoint)");
    if (!entry.is_object() || !entry.contains("bytes") || !entry.at("bytes").is_number_unsigned() ||
        !entry.contains("fnv1a") || !entry.at("fnv1a").is_string())
      fail(manifest_path + " is corrupt (the entry of " + name + " needs bytes and fnv1a); use another checkpoint");
    files[name] = {entry.at("bytes").get<uint64_t>(), entry.at("fnv1a").get<std::string>()};
  }
  return files;
}

}  // namespace ternary
