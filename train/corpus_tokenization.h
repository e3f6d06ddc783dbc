// Text files to a token file (train/token_file.h), streamed: each file is read in 4 MiB blocks,
// cut after the last newline of a block, and each piece is encoded and appended, so memory stays
// flat whatever the corpus size (docs/training.md measures it). The file is written under a
// temporary name and renamed when complete: an interrupted run leaves no file a later one trusts.
// The header, written last, holds the split (the last val_fraction of the tokens validates) and
// a fingerprint of tokenizer, contents and split that decides whether a cached file is reused.
// LibTorch-free.
#pragma once

#include <atomic>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "common/tokenizer.h"
#include "train/token_file.h"
#include "train/token_index.h"

namespace ternary {

struct CorpusTokenization {
  std::vector<std::string> files;  // regular files (expand_text_files)
  std::string out_path;
  double val_fraction = 0.1;
  std::ostream* progress = nullptr;  // a line every few seconds: share done, MB/s; then a summary
  bool require_split = true;         // false for a shard: any number of tokens in either split
  std::atomic<uint64_t>* bytes_done = nullptr;  // also counts the bytes read here (shared progress)
};

// A directory of shards, one per file, tokenized in parallel (train/token_index.h).
struct ShardedCorpusTokenization {
  std::vector<std::string> files;  // regular files (expand_text_files)
  std::string out_dir;
  double val_fraction = 0.1;
  int threads = 0;                   // 0 = the hardware's
  std::ostream* progress = nullptr;  // as CorpusTokenization's, over all files
};

// FNV-1a over the tokenizer id, every file's bytes in order, and val_fraction, read in blocks.
uint64_t corpus_fingerprint(const std::vector<std::string>& files, const Tokenizer& tokenizer, double val_fraction);

// Tokenizes `job.files` into job.out_path with `fingerprint` in the header; returns the header.
// Throws std::runtime_error naming the file (unreadable) or the problem (a corpus too small to split).
TokenFileHeader tokenize_corpus(const CorpusTokenization& job, const Tokenizer& tokenizer, uint64_t fingerprint);

// Tokenizes each file into its own shard of job.out_dir, `threads` files at a time, then writes
// index.json. The index of an earlier run is removed first and written again last, so an
// interrupted run leaves a directory nothing reads; shards whose source is unchanged (same
// fingerprint) are kept, so running again finishes the job without redoing it. Returns the index.
TokenIndex tokenize_corpus_shards(const ShardedCorpusTokenization& job, const Tokenizer& tokenizer);

}  // namespace ternary
