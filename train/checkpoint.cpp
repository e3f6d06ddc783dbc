#include "train/checkpoint.h"

#include <fcntl.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "train/tokenizer.h"

namespace ternary {
namespace fs = std::filesystem;
namespace {

constexpr const char* kFormat = "ternary-engine checkpoint";
constexpr int kVersion = 1;
const std::vector<std::string> kFiles = {"model.pt", "optimizer.pt", "trainer.pt", "config.yaml"};

[[noreturn]] void fail(const std::string& message) { throw CheckpointError(message); }

std::string hex64(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

// write + fsync, so the data is on disk before the directory is renamed into place.
void write_file_synced(const fs::path& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot write " + path.string() + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string reason = std::strerror(errno);
      ::close(fd);
      fail("cannot write " + path.string() + ": " + reason + " (disk full?)");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) fail("cannot sync " + path.string() + ": " + std::strerror(errno));
}

void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the rename itself is atomic
  ::fsync(fd);
  ::close(fd);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("checkpoint file " + path.string() + " is missing (the checkpoint is incomplete)");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

template <typename Saveable>
std::string archive_bytes(const Saveable& object) {
  torch::serialize::OutputArchive archive;
  object.save(archive);
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

std::string trainer_state_bytes(const TrainerState& s) {
  torch::serialize::OutputArchive archive;
  archive.write("step", c10::IValue(s.step));
  archive.write("tokens_seen", c10::IValue(s.tokens_seen));
  archive.write("val_loss", c10::IValue(s.val_loss));
  archive.write("best_val_loss", c10::IValue(s.best_val_loss));
  archive.write("rng_state", s.rng_state.defined() ? s.rng_state : at::empty({0}, at::kByte));
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

// Tensors are read onto `device` whatever device saved them, so a checkpoint written on a GPU
// loads (and exports) on a CPU-only machine and the other way round.
void load_archive(torch::serialize::InputArchive& archive, const std::string& bytes, const fs::path& path,
                  const at::Device& device = at::kCPU) {
  try {
    archive.load_from(bytes.data(), bytes.size(), device);
  } catch (const std::exception&) {
    fail("checkpoint file " + path.string() + " is not a readable torch archive");
  }
}

// Module::save nests one archive per submodule: "layers.0.mlp.weight" is layers -> 0 -> mlp -> weight.
bool try_read_nested(torch::serialize::InputArchive& archive, const std::string& name, at::Tensor& tensor) {
  const auto dot = name.find('.');
  if (dot == std::string::npos) return archive.try_read(name, tensor);
  torch::serialize::InputArchive child;
  return archive.try_read(name.substr(0, dot), child) && try_read_nested(child, name.substr(dot + 1), tensor);
}

}  // namespace

std::string step_checkpoint_name(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step_%06lld", static_cast<long long>(step));
  return name;
}

void write_checkpoint(const std::string& dir, const torch::nn::Module& model, const torch::optim::Optimizer* optimizer,
                      const TrainerState& state, const std::string& config_yaml) {
  const fs::path final_dir(dir);
  const fs::path parent = final_dir.parent_path().empty() ? fs::path(".") : final_dir.parent_path();
  fs::create_directories(parent);
  const fs::path tmp = parent / ("." + final_dir.filename().string() + ".tmp");
  fs::remove_all(tmp);
  fs::create_directory(tmp);

  std::map<std::string, std::string> files;
  files["model.pt"] = archive_bytes(model);
  files["optimizer.pt"] = optimizer ? archive_bytes(*optimizer) : archive_bytes(torch::nn::Module());
  files["trainer.pt"] = trainer_state_bytes(state);
  files["config.yaml"] = config_yaml;
  nlohmann::json manifest = {{"format", kFormat}, {"version", kVersion}, {"step", state.step}};
  for (const auto& [name, bytes] : files) {
    write_file_synced(tmp / name, bytes);
    manifest["files"][name] = {{"bytes", bytes.size()}, {"fnv1a", hex64(fnv1a(bytes.data(), bytes.size()))}};
  }
  write_file_synced(tmp / "manifest.json", manifest.dump(2) + "\n");
  sync_directory(tmp);

  // Swap into place: the old directory is removed only after the new one has its final name.
  const fs::path old = parent / ("." + final_dir.filename().string() + ".old");
  fs::remove_all(old);
  if (fs::exists(final_dir)) fs::rename(final_dir, old);
  fs::rename(tmp, final_dir);
  sync_directory(parent);
  fs::remove_all(old);
}

void verify_checkpoint(const std::string& dir) {
  const fs::path root(dir);
  if (!fs::is_directory(root)) fail("checkpoint " + dir + " does not exist (give a checkpoint directory)");
  const fs::path manifest_path = root / "manifest.json";
  if (!fs::exists(manifest_path)) fail("checkpoint " + dir + " has no manifest.json (not a ternary-train checkpoint)");
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(read_file(manifest_path));
  } catch (const nlohmann::json::exception&) {
    fail(manifest_path.string() + " is corrupt (not JSON); use another checkpoint");
  }
  if (manifest.value("format", "") != kFormat || !manifest.contains("files"))
    fail(manifest_path.string() + " is not a ternary-engine checkpoint manifest");
  if (manifest.value("version", 0) != kVersion)
    fail(manifest_path.string() + ": checkpoint version " + std::to_string(manifest.value("version", 0)) +
         " is not supported (this build reads version " + std::to_string(kVersion) + ")");
  for (const auto& name : kFiles) {
    if (!manifest["files"].contains(name)) fail(manifest_path.string() + " does not list " + name);
    const auto& entry = manifest["files"][name];
    const std::string bytes = read_file(root / name);
    if (bytes.size() != entry.value("bytes", size_t{0}))
      fail("checkpoint file " + (root / name).string() + " has " + std::to_string(bytes.size()) + " bytes, expected " +
           std::to_string(entry.value("bytes", size_t{0})) + " (truncated or corrupt; use another checkpoint)");
    if (hex64(fnv1a(bytes.data(), bytes.size())) != entry.value("fnv1a", ""))
      fail("checkpoint file " + (root / name).string() + " fails its checksum (corrupt; use another checkpoint)");
  }
}

std::string read_checkpoint_config(const std::string& dir) {
  verify_checkpoint(dir);
  return read_file(fs::path(dir) / "config.yaml");
}

void load_model_tensors(const std::string& dir, torch::nn::Module& model, bool include_quantizer_state) {
  verify_checkpoint(dir);
  const fs::path root(dir);
  torch::serialize::InputArchive archive;
  load_archive(archive, read_file(root / "model.pt"), root / "model.pt");
  // Read and check every tensor before changing any, so a mismatch leaves the model untouched.
  std::vector<std::pair<at::Tensor, at::Tensor>> assignments;  // (model tensor, stored)
  auto collect = [&](const std::string& name, const at::Tensor& target) {
    if (!include_quantizer_state && name.find("_quantizer.") != std::string::npos) return;
    at::Tensor stored;
    if (!try_read_nested(archive, name, stored))
      fail("checkpoint " + dir + "/model.pt has no tensor '" + name + "' (saved from a different model config?)");
    if (stored.sizes() != target.sizes())
      fail("checkpoint " + dir + "/model.pt: '" + name + "' has shape " + c10::str(stored.sizes()) +
           " but the model expects " + c10::str(target.sizes()) + " (model config differs)");
    assignments.emplace_back(target, stored);
  };
  for (const auto& p : model.named_parameters()) collect(p.key(), p.value());
  for (const auto& b : model.named_buffers()) collect(b.key(), b.value());
  at::NoGradGuard no_grad;
  for (auto& [target, stored] : assignments) target.copy_(stored);
}

TrainerState load_checkpoint(const std::string& dir, torch::nn::Module& model, torch::optim::Optimizer* optimizer) {
  load_model_tensors(dir, model, /*include_quantizer_state=*/true);
  const fs::path root(dir);

  if (optimizer) {
    torch::serialize::InputArchive optimizer_archive;
    // Optimizer state goes where the parameters are (a torch optimizer cannot step across devices).
    const auto params = model.parameters();
    load_archive(optimizer_archive, read_file(root / "optimizer.pt"), root / "optimizer.pt",
                 params.empty() ? at::Device(at::kCPU) : params.front().device());
    try {
      optimizer->load(optimizer_archive);
    } catch (const c10::Error& e) {
      fail("checkpoint " + dir + "/optimizer.pt does not fit this optimizer: " + e.what_without_backtrace());
    }
  }

  torch::serialize::InputArchive trainer_archive;
  load_archive(trainer_archive, read_file(root / "trainer.pt"), root / "trainer.pt");
  TrainerState state;
  c10::IValue value;
  trainer_archive.read("step", value), state.step = value.toInt();
  trainer_archive.read("tokens_seen", value), state.tokens_seen = value.toInt();
  trainer_archive.read("val_loss", value), state.val_loss = value.toDouble();
  trainer_archive.read("best_val_loss", value), state.best_val_loss = value.toDouble();
  trainer_archive.read("rng_state", state.rng_state);
  return state;
}

std::vector<std::string> list_step_checkpoints(const std::string& checkpoints_dir) {
  std::vector<std::string> dirs;
  if (!fs::is_directory(checkpoints_dir)) return dirs;
  for (const auto& entry : fs::directory_iterator(checkpoints_dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind("step_", 0) == 0) dirs.push_back(entry.path().string());
  }
  std::sort(dirs.begin(), dirs.end());  // zero-padded step numbers sort by step
  return dirs;
}

std::string find_checkpoint(const std::string& path) {
  if (fs::exists(fs::path(path) / "manifest.json")) return path;
  const auto dirs = list_step_checkpoints((fs::path(path) / "checkpoints").string());
  if (dirs.empty())
    fail("--resume " + path + ": no checkpoint there (expected " + path + "/manifest.json or " + path +
         "/checkpoints/step_*/)");
  return dirs.back();
}

void prune_checkpoints(const std::string& checkpoints_dir, int64_t keep_last) {
  const auto dirs = list_step_checkpoints(checkpoints_dir);
  for (size_t i = 0; i + static_cast<size_t>(keep_last) < dirs.size(); ++i) fs::remove_all(dirs[i]);
  for (const auto& entry : fs::directory_iterator(checkpoints_dir)) {
    const std::string name = entry.path().filename().string();
    const bool leftover = name.front() == '.' && (name.ends_with(".tmp") || name.ends_with(".old"));
    if (leftover) fs::remove_all(entry.path());
  }
}

}  // namespace ternary
