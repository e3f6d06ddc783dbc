#include "train/checkpoint.h"

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/atomic_file.h"
#include "common/fnv1a.h"
#include "modules/quant_slot_names.h"
#include "train/checkpoint_manifest.h"
#include "train/torch_archive_check.h"

namespace ternary {
namespace fs = std::filesystem;
namespace {

const std::vector<std::string> kFiles = {"model.pt", "optimizer.pt", "trainer.pt", "config.yaml"};

[[noreturn]] void fail(const std::string& message) { throw CheckpointError(message); }

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("checkpoint file " + path.string() + " is missing (the checkpoint is incomplete)");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail("checkpoint file " + path.string() + " cannot be read");
  return bytes;
}

// Streams an archive into `path` as LibTorch serializes it, record by record: no second copy of
// the model or optimizer state in memory (a 1B model's 4 GB would otherwise be held 2-3 times).
// Size and FNV-1a are taken on the way, for the manifest.
ManifestFile stream_archive(const fs::path& path, torch::serialize::OutputArchive& archive) {
  AtomicFileWriter file(path.string());
  uint64_t hash = kFnv1aOffsetBasis;
  archive.save_to([&](const void* data, size_t size) -> size_t {
    file.write(data, size);
    hash = fnv1a(data, size, hash);
    return size;
  });
  const uint64_t bytes = file.bytes_written();
  file.commit();
  return {bytes, fnv1a_hex(hash)};
}

template <typename Saveable>
ManifestFile write_saveable(const fs::path& path, const Saveable& object) {
  torch::serialize::OutputArchive archive;
  object.save(archive);
  return stream_archive(path, archive);
}

ManifestFile write_trainer_state(const fs::path& path, const TrainerState& s) {
  torch::serialize::OutputArchive archive;
  archive.write("step", c10::IValue(s.step));
  archive.write("tokens_seen", c10::IValue(s.tokens_seen));
  archive.write("val_loss", c10::IValue(s.val_loss));
  archive.write("best_val_loss", c10::IValue(s.best_val_loss));
  archive.write("rng_state", s.rng_state.defined() ? s.rng_state : at::empty({0}, at::kByte));
  return stream_archive(path, archive);
}

// Where a checkpoint's files are written before the directory is renamed into place.
fs::path staging_dir(const std::string& dir) {
  const fs::path final_dir(dir);
  const fs::path parent = final_dir.parent_path().empty() ? fs::path(".") : final_dir.parent_path();
  return parent / ("." + final_dir.filename().string() + ".tmp");
}

// Size and FNV-1a of a file another process wrote, read in bounded chunks.
ManifestFile hash_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("checkpoint part " + path.string() + " was not written (a rank failed before writing it)");
  std::vector<char> buffer(1 << 20);
  uint64_t hash = kFnv1aOffsetBasis, bytes = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = static_cast<size_t>(in.gcount());
    hash = fnv1a(buffer.data(), got, hash);
    bytes += got;
  }
  if (in.bad()) fail("checkpoint part " + path.string() + " cannot be read");
  return {bytes, fnv1a_hex(hash)};
}

// Runs `read` on the archive in `bytes`, loaded onto `device` whatever device saved it (so a GPU
// checkpoint loads on a CPU-only machine and the other way round). Any LibTorch error from a
// damaged archive becomes a CheckpointError naming the file.
template <typename Read>
void read_archive(const std::string& bytes, const fs::path& path, const at::Device& device, Read read) {
  torch::serialize::InputArchive archive;
  try {
    check_torch_archive(bytes, path.string());  // what LibTorch would abort on, as an error
  } catch (const std::runtime_error& e) {
    fail(std::string("checkpoint file ") + e.what());
  }
  try {
    archive.load_from(bytes.data(), bytes.size(), device);
  } catch (const std::exception&) {
    fail("checkpoint file " + path.string() + " is not a readable torch archive (corrupt; use another checkpoint)");
  }
  try {
    read(archive);
  } catch (const CheckpointError&) {
    throw;
  } catch (const c10::Error& e) {
    fail("checkpoint file " + path.string() + " cannot be read: " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    fail("checkpoint file " + path.string() + " cannot be read: " + e.what());
  }
}

// Module::save nests one archive per submodule: "layers.0.mlp.weight" is layers -> 0 -> mlp -> weight.
bool try_read_nested(torch::serialize::InputArchive& archive, const std::string& name, at::Tensor& tensor) {
  const auto dot = name.find('.');
  if (dot == std::string::npos) return archive.try_read(name, tensor);
  torch::serialize::InputArchive child;
  return archive.try_read(name.substr(0, dot), child) && try_read_nested(child, name.substr(dot + 1), tensor);
}

// The step number of a "step_<digits>" name, or -1.
int64_t step_of(const std::string& name) {
  if (name.rfind("step_", 0) != 0 || name.size() == 5 || name.size() > 5 + 18) return -1;
  int64_t step = 0;
  for (size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    step = step * 10 + (name[i] - '0');
  }
  return step;
}

}  // namespace

std::string step_checkpoint_name(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step_%06lld", static_cast<long long>(step));
  return name;
}

void begin_checkpoint(const std::string& dir) {
  const fs::path tmp = staging_dir(dir);
  fs::create_directories(tmp.parent_path());
  fs::remove_all(tmp);
  fs::create_directory(tmp);
}

void write_checkpoint_part(const std::string& dir, const std::string& file, torch::serialize::OutputArchive& archive) {
  stream_archive(staging_dir(dir) / file, archive);
}

void write_checkpoint(const std::string& dir, const torch::nn::Module& model, const torch::optim::Optimizer* optimizer,
                      const TrainerState& state, const std::string& config_yaml, const std::vector<std::string>& parts) {
  const fs::path final_dir(dir);
  const fs::path parent = final_dir.parent_path().empty() ? fs::path(".") : final_dir.parent_path();
  const fs::path tmp = staging_dir(dir);
  if (parts.empty()) begin_checkpoint(dir);

  std::map<std::string, ManifestFile> files;
  for (const auto& part : parts) files[part] = hash_file(tmp / part);
  files["model.pt"] = write_saveable(tmp / "model.pt", model);
  files["optimizer.pt"] = optimizer ? write_saveable(tmp / "optimizer.pt", *optimizer)
                                    : write_saveable(tmp / "optimizer.pt", torch::nn::Module());
  files["trainer.pt"] = write_trainer_state(tmp / "trainer.pt", state);
  write_file_atomic((tmp / "config.yaml").string(), config_yaml);
  files["config.yaml"] = {config_yaml.size(), fnv1a_hex(config_yaml.data(), config_yaml.size())};
  write_file_atomic((tmp / "manifest.json").string(), checkpoint_manifest_json(state.step, files));

  // Swap into place: the old directory is removed only after the new one has its final name.
  const fs::path old = parent / ("." + final_dir.filename().string() + ".old");
  fs::remove_all(old);
  if (fs::exists(final_dir)) fs::rename(final_dir, old);
  fs::rename(tmp, final_dir);
  sync_directory(parent.string());
  fs::remove_all(old);
}

std::vector<std::string> Checkpoint::file_names() const {
  std::vector<std::string> names;
  for (const auto& [name, bytes] : files_) names.push_back(name);
  for (const auto& [name, entry] : deferred_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

void Checkpoint::read_archive_file(const std::string& name,
                                   const std::function<void(torch::serialize::InputArchive&)>& read) const {
  read_archive_on(name, at::kCPU, read);
}

void Checkpoint::read_archive_on(const std::string& name, const at::Device& device,
                                 const std::function<void(torch::serialize::InputArchive&)>& read) const {
  const fs::path path = fs::path(dir_) / name;
  if (const auto held = files_.find(name); held != files_.end()) return read_archive(held->second, path, device, read);
  const auto deferred = deferred_.find(name);
  if (deferred == deferred_.end()) fail("checkpoint " + dir_ + " has no file " + name);
  const std::string bytes = read_file(path);
  if (bytes.size() != deferred->second.first)
    fail("checkpoint file " + path.string() + " changed size since it was opened (rewritten while in use?)");
  if (fnv1a_hex(bytes.data(), bytes.size()) != deferred->second.second)
    fail("checkpoint file " + path.string() + " fails its checksum (corrupt; use another checkpoint)");
  read_archive(bytes, path, device, read);
}

Checkpoint Checkpoint::open(const std::string& dir, FileReading reading) {
  const fs::path root(dir);
  if (!fs::is_directory(root)) fail("checkpoint " + dir + " does not exist (give a checkpoint directory)");
  const fs::path manifest_path = root / "manifest.json";
  if (!fs::exists(manifest_path)) fail("checkpoint " + dir + " has no manifest.json (not a ternary-train checkpoint)");
  constexpr uintmax_t kMaxManifestBytes = 1 << 20;  // a real one is a few hundred bytes
  std::error_code size_error;
  if (fs::file_size(manifest_path, size_error) > kMaxManifestBytes || size_error)
    fail(manifest_path.string() + " is not a checkpoint manifest (unreadable, or over 1 MiB)");
  std::map<std::string, ManifestFile> listed;
  try {
    listed = parse_checkpoint_manifest(read_file(manifest_path), manifest_path.string(), kFiles);
  } catch (const std::runtime_error& e) {
    fail(e.what());
  }
  Checkpoint checkpoint;
  checkpoint.dir_ = dir;
  for (const auto& [name, entry] : listed) {
    const fs::path path = root / name;
    std::error_code error;
    const uintmax_t on_disk = fs::file_size(path, error);
    if (error) fail("checkpoint file " + path.string() + " is missing (the checkpoint is incomplete)");
    if (on_disk != entry.bytes)  // checked before reading, so a wrong size never allocates
      fail("checkpoint file " + path.string() + " has " + std::to_string(on_disk) + " bytes, expected " +
           std::to_string(entry.bytes) + " (truncated or corrupt; use another checkpoint)");
    if (reading == FileReading::kOnDemand && name != "config.yaml") {
      checkpoint.deferred_[name] = {entry.bytes, entry.fnv1a};
      continue;
    }
    std::string bytes = read_file(path);
    if (fnv1a_hex(bytes.data(), bytes.size()) != entry.fnv1a)
      fail("checkpoint file " + path.string() + " fails its checksum (corrupt; use another checkpoint)");
    checkpoint.files_[name] = std::move(bytes);
  }
  return checkpoint;
}

void Checkpoint::load_model(torch::nn::Module& model, bool include_quantizer_state) const {
  const fs::path path = fs::path(dir_) / "model.pt";
  // Read and check every tensor before changing any, so a mismatch leaves the model untouched.
  std::vector<std::pair<at::Tensor, at::Tensor>> assignments;  // (model tensor, stored)
  read_archive_on("model.pt", at::kCPU, [&](torch::serialize::InputArchive& archive) {
    auto collect = [&](const std::string& name, const at::Tensor& target) {
      if (!include_quantizer_state && is_quantizer_state(name)) return;
      at::Tensor stored;
      if (!try_read_nested(archive, name, stored))
        fail("checkpoint " + dir_ + "/model.pt has no tensor '" + name + "' (saved from a different model config?)");
      if (stored.sizes() != target.sizes())
        fail("checkpoint " + dir_ + "/model.pt: '" + name + "' has shape " + c10::str(stored.sizes()) +
             " but the model expects " + c10::str(target.sizes()) + " (model config differs)");
      assignments.emplace_back(target, stored);
    };
    for (const auto& p : model.named_parameters()) collect(p.key(), p.value());
    for (const auto& b : model.named_buffers()) collect(b.key(), b.value());
  });
  at::NoGradGuard no_grad;
  for (auto& [target, stored] : assignments) target.copy_(stored);
}

void Checkpoint::load_optimizer(torch::optim::Optimizer& optimizer, const at::Device& device) const {
  const fs::path path = fs::path(dir_) / "optimizer.pt";
  read_archive_on("optimizer.pt", device, [&](torch::serialize::InputArchive& archive) {
    try {
      optimizer.load(archive);
    } catch (const c10::Error& e) {
      fail("checkpoint " + dir_ + "/optimizer.pt does not fit this optimizer: " + e.what_without_backtrace());
    }
  });
}

TrainerState Checkpoint::trainer_state() const {
  TrainerState state;
  read_archive_on("trainer.pt", at::kCPU,
               [&](torch::serialize::InputArchive& archive) {
                 c10::IValue value;
                 archive.read("step", value), state.step = value.toInt();
                 archive.read("tokens_seen", value), state.tokens_seen = value.toInt();
                 archive.read("val_loss", value), state.val_loss = value.toDouble();
                 archive.read("best_val_loss", value), state.best_val_loss = value.toDouble();
                 archive.read("rng_state", state.rng_state);
               });
  return state;
}

std::vector<std::string> list_step_checkpoints(const std::string& checkpoints_dir) {
  std::vector<std::pair<int64_t, std::string>> steps;
  if (!fs::is_directory(checkpoints_dir)) return {};
  for (const auto& entry : fs::directory_iterator(checkpoints_dir)) {
    const int64_t step = step_of(entry.path().filename().string());
    if (entry.is_directory() && step >= 0) steps.emplace_back(step, entry.path().string());
  }
  std::sort(steps.begin(), steps.end());  // by number: step_1000000 comes after step_999999
  std::vector<std::string> dirs;
  for (auto& [step, dir] : steps) dirs.push_back(std::move(dir));
  return dirs;
}

std::string find_checkpoint(const std::string& path, const std::string& flag) {
  if (fs::exists(fs::path(path) / "manifest.json")) return path;
  const auto dirs = list_step_checkpoints((fs::path(path) / "checkpoints").string());
  if (dirs.empty())
    fail(flag + " " + path + ": no checkpoint there (expected " + path + "/manifest.json or " + path +
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
