#include "train/corpus_files.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <stdexcept>

namespace ternary {
namespace {
namespace fs = std::filesystem;

bool hidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

// Regular files under `dir`, recursively, skipping hidden files and directories; sorted.
std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> files;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied);
       it != fs::recursive_directory_iterator(); ++it) {
    if (hidden(it->path())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> glob_matches(const std::string& pattern) {
  glob_t matches{};
  const int status = ::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &matches);
  std::vector<std::string> paths;
  if (status == 0)
    for (size_t i = 0; i < matches.gl_pathc; ++i) paths.emplace_back(matches.gl_pathv[i]);
  globfree(&matches);
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace

std::vector<std::string> expand_text_files(const std::vector<std::string>& entries, const std::string& what) {
  std::vector<std::string> files;
  std::set<std::string> seen;
  auto add = [&](const std::string& file) {
    if (seen.insert(fs::weakly_canonical(file).string()).second) files.push_back(file);
  };
  for (const std::string& entry : entries) {
    std::error_code error;
    if (fs::is_regular_file(entry, error)) {
      add(entry);
      continue;
    }
    std::vector<std::string> found;
    if (fs::is_directory(entry, error)) {
      found = files_under(entry);
      if (found.empty()) throw std::runtime_error(what + ": directory '" + entry + "' holds no files");
    } else if (entry.find_first_of("*?[") != std::string::npos) {
      for (const std::string& match : glob_matches(entry)) {
        if (fs::is_regular_file(match, error)) found.push_back(match);
        else if (fs::is_directory(match, error))
          for (const std::string& file : files_under(match)) found.push_back(file);
      }
      if (found.empty()) throw std::runtime_error(what + ": pattern '" + entry + "' matches no file (check it)");
    } else if (fs::exists(entry, error)) {
      throw std::runtime_error(what + ": '" + entry + "' is neither a regular file nor a directory");
    } else {
      throw std::runtime_error(what + ": '" + entry + "' does not exist (check the path)");
    }
    for (const std::string& file : found) add(file);
  }
  return files;
}

}  // namespace ternary
