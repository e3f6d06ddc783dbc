#include "train/token_dataset.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "train/corpus_files.h"
#include "train/corpus_tokenization.h"
#include "common/fnv1a.h"
#include "train/token_file.h"
#include "train/token_index.h"

namespace ternary {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw std::runtime_error(path + ": " + message);
}

}  // namespace

struct TokenDataset::Mapping {
  void* data = MAP_FAILED;
  size_t size = 0;
  int token_bytes = 2;
  ~Mapping() {
    if (data != MAP_FAILED) munmap(data, size);
  }
  const char* tokens() const { return static_cast<const char*>(data) + sizeof(TokenFileHeader); }
};

namespace {

// Maps a token file and validates it; returns the mapping and its header.
std::pair<std::shared_ptr<TokenDataset::Mapping>, TokenFileHeader> map_token_file(const std::string& path,
                                                                                 bool require_split) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail(path, "cannot open the tokenized data file");
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "is not a regular file (data.tokenized names a tokenized data file or a directory of shards)");
  }
  auto mapping = std::make_shared<TokenDataset::Mapping>();
  mapping->size = static_cast<size_t>(st.st_size);
  if (mapping->size >= sizeof(TokenFileHeader)) mapping->data = mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping->data == MAP_FAILED) fail(path, "too short or unreadable to be a tokenized data file; delete it to rebuild");
  const TokenFileHeader h = validate_token_file(
      std::string_view(static_cast<const char*>(mapping->data), mapping->size), path, require_split);
  mapping->token_bytes = static_cast<int>(h.token_bytes);
  return {std::move(mapping), h};
}

std::string read_small_file(const std::string& path, size_t max_bytes) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (error) fail(path, "is missing: the tokenization did not finish, or this is not a directory of token shards; "
                        "run ternary-tokenizer encode again");
  if (size > max_bytes) fail(path, "is over " + std::to_string(max_bytes >> 20) + " MiB (corrupt)");
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

void TokenDataset::append(std::vector<Segment>& split, std::shared_ptr<Mapping> file, int64_t first, int64_t count) {
  if (count == 0) return;
  split.push_back({std::move(file), first, count, split.empty() ? 0 : split.back().start + split.back().count});
}

TokenDataset TokenDataset::open(const std::string& path) {
  if (std::filesystem::is_directory(path)) return open_shards(path);
  auto [mapping, h] = map_token_file(path, /*require_split=*/true);
  TokenDataset d;
  d.path_ = path;
  d.n_train_ = static_cast<int64_t>(h.n_train);
  d.n_val_ = static_cast<int64_t>(h.n_val);
  d.vocab_size_ = static_cast<int64_t>(h.vocab_size);
  d.fingerprint_ = h.fingerprint;
  append(d.train_, mapping, 0, d.n_train_);
  append(d.val_, mapping, d.n_train_, d.n_val_);
  return d;
}

TokenDataset TokenDataset::open_shards(const std::string& dir) {
  const std::string index_path = (std::filesystem::path(dir) / kTokenIndexFile).string();
  const TokenIndex index = parse_token_index(read_small_file(index_path, size_t{256} << 20), index_path);
  TokenDataset d;
  d.path_ = dir;
  d.vocab_size_ = static_cast<int64_t>(index.vocab_size);
  d.fingerprint_ = fnv1a(index.tokenizer_id.data(), index.tokenizer_id.size());
  for (const auto& entry : index.shards) {
    const std::string shard = (std::filesystem::path(dir) / entry.file).string();
    auto [mapping, h] = map_token_file(shard, /*require_split=*/false);
    const std::string header_tokenizer(h.tokenizer_id, strnlen(h.tokenizer_id, sizeof h.tokenizer_id));
    if (h.fingerprint != entry.fingerprint || h.n_train + h.n_val != entry.tokens || h.vocab_size != index.vocab_size ||
        h.token_bytes != index.token_bytes || header_tokenizer != index.tokenizer_id.substr(0, sizeof h.tokenizer_id - 1))
      fail(shard, "does not match its entry in " + index_path + " (rewritten since?); run ternary-tokenizer encode again");
    append(d.train_, mapping, 0, static_cast<int64_t>(h.n_train));
    append(d.val_, mapping, static_cast<int64_t>(h.n_train), static_cast<int64_t>(h.n_val));
    d.n_train_ += static_cast<int64_t>(h.n_train);
    d.n_val_ += static_cast<int64_t>(h.n_val);
    d.fingerprint_ = fnv1a(&entry.fingerprint, sizeof entry.fingerprint, d.fingerprint_);
  }
  if (d.n_train_ < 2 || d.n_val_ < 2) fail(dir, "holds too few tokens for a train/val split");
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

at::Tensor TokenDataset::read(const std::vector<Segment>& split, int64_t offset, int64_t count) const {
  at::Tensor out = at::empty({count}, at::kLong);
  int64_t* o = out.data_ptr<int64_t>();
  // The segment holding `offset`, then on through the following ones.
  auto segment = std::upper_bound(split.begin(), split.end(), offset,
                                  [](int64_t value, const Segment& s) { return value < s.start; }) - 1;
  for (int64_t done = 0; done < count; ++segment) {
    const int64_t from = offset + done - segment->start;
    const int64_t n = std::min(count - done, segment->count - from);
    const int width = segment->file->token_bytes;
    const char* base = segment->file->tokens() + (segment->first + from) * width;
    for (int64_t i = 0; i < n; ++i) {
      if (width == 2) {
        uint16_t v;
        std::memcpy(&v, base + 2 * i, 2);
        o[done + i] = v;
      } else {
        int32_t v;
        std::memcpy(&v, base + 4 * i, 4);
        o[done + i] = v;
      }
    }
    done += n;
  }
  return out;
}

at::Tensor TokenDataset::train_slice(int64_t start, int64_t count) const {
  TORCH_CHECK(start >= 0 && count >= 0 && start + count <= n_train_, "train_slice out of range");
  return read(train_, start, count);
}

std::pair<at::Tensor, at::Tensor> TokenDataset::sample_train(int64_t batch, int64_t seq, at::Generator& generator,
                                                            int64_t shard, int64_t shards) const {
  TORCH_CHECK(seq + 1 < n_train_, "sequence length ", seq, " does not fit the ", n_train_, " training tokens");
  TORCH_CHECK(shards >= 1 && shard >= 0 && shard < shards, "shard ", shard, " of ", shards);
  const at::Tensor starts = at::randint(0, n_train_ - seq - 1, {batch * shards}, generator, at::kLong);
  at::Tensor inputs = at::empty({batch, seq}, at::kLong), targets = at::empty({batch, seq}, at::kLong);
  for (int64_t b = 0; b < batch; ++b) {
    const at::Tensor w = read(train_, starts[shard * batch + b].item<int64_t>(), seq + 1);
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
      const at::Tensor w = read(val_, (first + r) * seq, seq + 1);
      inputs[r].copy_(w.slice(0, 0, seq));
      targets[r].copy_(w.slice(0, 1, seq + 1));
    }
    batches.emplace_back(inputs, targets);
  }
  return batches;
}

}  // namespace ternary
