// A tokenized corpus on disk, built once from text files and memory-mapped afterwards: one token
// file, whose first (1 - val_fraction) of the tokens train and the tail validates; or a directory
// of shards with an index (train/token_index.h), whose train and val splits are those of its
// shards, in order. Random windows for
// training come from a caller-owned at::Generator (checkpointable); the validation windows are
// fixed. File format (little-endian): "TTOKENS1", version, token width, vocab size, train and
// val counts, a fingerprint of the sources + tokenizer, the tokenizer id, then the tokens.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/tokenizer.h"

namespace ternary {

struct TokenDatasetOptions {
  std::vector<std::string> text_files;  // files, directories and globs (train/corpus_files.h)
  std::string cache_path;     // where the tokenized file lives (rebuilt when stale)
  double val_fraction = 0.1;  // tail of the corpus held out
  std::ostream* progress = nullptr;  // tokenization progress (bytes/s), when it runs
};

class TokenDataset {
 public:
  // Opens cache_path if it holds exactly these files tokenized by `tokenizer`, else rebuilds it,
  // streaming in constant memory (train/corpus_tokenization.h; written to a temporary file, then
  // renamed, so a crash never leaves a half file behind).
  static TokenDataset prepare(const TokenDatasetOptions& options, const Tokenizer& tokenizer);
  // Opens and validates a tokenized file, or a directory of shards (each shard as a file, and
  // against its entry in index.json): every header field against the file size (overflow-safe)
  // and every token against the vocabulary; a corrupt or truncated one is a clear error.
  static TokenDataset open(const std::string& path);

  int64_t train_tokens() const { return n_train_; }
  int64_t val_tokens() const { return n_val_; }
  int64_t vocab_size() const { return vocab_size_; }
  uint64_t fingerprint() const { return fingerprint_; }

  // (inputs, targets): (batch, seq) int64, targets = inputs shifted by one token. With `shards`
  // > 1 (data-parallel ranks sharing one generator), the windows of a global batch of
  // batch x shards are drawn and shard `shard` gets rows [shard x batch, (shard + 1) x batch): the
  // ranks together see exactly what one process with the global batch would.
  std::pair<at::Tensor, at::Tensor> sample_train(int64_t batch, int64_t seq, at::Generator& generator,
                                                 int64_t shard = 0, int64_t shards = 1) const;
  // Consecutive non-overlapping windows over the validation tokens, batched; at most max_batches.
  std::vector<std::pair<at::Tensor, at::Tensor>> val_batches(int64_t batch, int64_t seq, int64_t max_batches) const;
  // Tokens [start, start + count) of the training split, as int64.
  at::Tensor train_slice(int64_t start, int64_t count) const;

  struct Mapping;  // one mapped token file

 private:
  struct Segment {  // tokens [first, first + count) of a file, at `start` of its split
    std::shared_ptr<Mapping> file;
    int64_t first = 0, count = 0, start = 0;
  };
  static TokenDataset open_shards(const std::string& dir);
  static void append(std::vector<Segment>& split, std::shared_ptr<Mapping> file, int64_t first, int64_t count);
  // Tokens [offset, offset + count) of a split, across its segments, as int64.
  at::Tensor read(const std::vector<Segment>& split, int64_t offset, int64_t count) const;

  std::vector<Segment> train_, val_;
  std::string path_;
  int64_t n_train_ = 0, n_val_ = 0, vocab_size_ = 0;
  uint64_t fingerprint_ = 0;
};

}  // namespace ternary
