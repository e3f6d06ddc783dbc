#include "train/token_dataset.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "train/corpus_files.h"
#include "train/corpus_tokenization.h"
#include "train/token_file.h"

namespace ternary {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw std::runtime_error(path + ": " + message);
}

}  // namespace

struct TokenDataset::Mapping {
  void* data = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (data != MAP_FAILED) munmap(data, size);
  }
  const char* tokens() const { return static_cast<const char*>(data) + sizeof(TokenFileHeader); }
};

TokenDataset TokenDataset::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail(path, "cannot open the tokenized data file");
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "is not a regular file (data.tokenized names a tokenized data file)");
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->size = static_cast<size_t>(st.st_size);
  if (mapping->size >= sizeof(TokenFileHeader)) mapping->data = mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping->data == MAP_FAILED) fail(path, "too short or unreadable to be a tokenized data file; delete it to rebuild");
  const TokenFileHeader h =
      validate_token_file(std::string_view(static_cast<const char*>(mapping->data), mapping->size), path);
  TokenDataset d;
  d.mapping_ = std::move(mapping);
  d.path_ = path;
  d.n_train_ = static_cast<int64_t>(h.n_train);
  d.n_val_ = static_cast<int64_t>(h.n_val);
  d.vocab_size_ = static_cast<int64_t>(h.vocab_size);
  d.token_bytes_ = static_cast<int>(h.token_bytes);
  d.fingerprint_ = h.fingerprint;
  return d;
}

TokenDataset TokenDataset::prepare(const TokenDatasetOptions& options, const Tokenizer& tokenizer) {
  if (options.text_files.empty()) throw std::invalid_argument("data.text_files is empty: name at least one text file");
  if (!(options.val_fraction > 0 && options.val_fraction < 1))
    throw std::invalid_argument("data.val_fraction must be in (0, 1), got " + std::to_string(options.val_fraction));
  CorpusTokenization job{expand_text_files(options.text_files), options.cache_path, options.val_fraction,
                         options.progress};
  const uint64_t fingerprint = corpus_fingerprint(job.files, tokenizer, options.val_fraction);
  if (std::filesystem::exists(options.cache_path)) {
    try {
      TokenDataset cached = open(options.cache_path);
      if (cached.fingerprint_ == fingerprint) return cached;
    } catch (const std::runtime_error&) {
      // stale or damaged cache: rebuilt below
    }
  }
  tokenize_corpus(job, tokenizer, fingerprint);
  return open(options.cache_path);
}

at::Tensor TokenDataset::window(int64_t offset, int64_t count) const {
  at::Tensor out = at::empty({count}, at::kLong);
  int64_t* o = out.data_ptr<int64_t>();
  const char* base = mapping_->tokens() + offset * token_bytes_;
  for (int64_t i = 0; i < count; ++i) {
    if (token_bytes_ == 2) {
      uint16_t v;
      std::memcpy(&v, base + 2 * i, 2);
      o[i] = v;
    } else {
      int32_t v;
      std::memcpy(&v, base + 4 * i, 4);
      o[i] = v;
    }
  }
  return out;
}

at::Tensor TokenDataset::train_slice(int64_t start, int64_t count) const {
  TORCH_CHECK(start >= 0 && count >= 0 && start + count <= n_train_, "train_slice out of range");
  return window(start, count);
}

std::pair<at::Tensor, at::Tensor> TokenDataset::sample_train(int64_t batch, int64_t seq, at::Generator& generator,
                                                            int64_t shard, int64_t shards) const {
  TORCH_CHECK(seq + 1 < n_train_, "sequence length ", seq, " does not fit the ", n_train_, " training tokens");
  TORCH_CHECK(shards >= 1 && shard >= 0 && shard < shards, "shard ", shard, " of ", shards);
  const at::Tensor starts = at::randint(0, n_train_ - seq - 1, {batch * shards}, generator, at::kLong);
  at::Tensor inputs = at::empty({batch, seq}, at::kLong), targets = at::empty({batch, seq}, at::kLong);
  for (int64_t b = 0; b < batch; ++b) {
    const at::Tensor w = window(starts[shard * batch + b].item<int64_t>(), seq + 1);
    inputs[b].copy_(w.slice(0, 0, seq));
    targets[b].copy_(w.slice(0, 1, seq + 1));
  }
  return {inputs, targets};
}

std::vector<std::pair<at::Tensor, at::Tensor>> TokenDataset::val_batches(int64_t batch, int64_t seq,
                                                                         int64_t max_batches) const {
  const int64_t windows = (n_val_ - 1) / seq;
  TORCH_CHECK(windows >= 1, "validation split (", n_val_, " tokens) is shorter than one sequence of ", seq);
  std::vector<std::pair<at::Tensor, at::Tensor>> batches;
  for (int64_t first = 0; first < windows && static_cast<int64_t>(batches.size()) < max_batches; first += batch) {
    const int64_t rows = std::min(batch, windows - first);
    at::Tensor inputs = at::empty({rows, seq}, at::kLong), targets = at::empty({rows, seq}, at::kLong);
    for (int64_t r = 0; r < rows; ++r) {
      const at::Tensor w = window(n_train_ + (first + r) * seq, seq + 1);
      inputs[r].copy_(w.slice(0, 0, seq));
      targets[r].copy_(w.slice(0, 1, seq + 1));
    }
    batches.emplace_back(inputs, targets);
  }
  return batches;
}

}  // namespace ternary
