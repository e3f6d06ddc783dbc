#include "train/corpus_tokenization.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <thread>

#include "common/atomic_file.h"
#include "common/fnv1a.h"

namespace ternary {
namespace {
namespace fs = std::filesystem;

constexpr size_t kBlockBytes = size_t{4} << 20;
constexpr size_t kMaxLineBytes = size_t{64} << 20;  // a "line" longer than this is cut anyway

std::ifstream open_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open the text file (check data.text_files)");
  return in;
}

// Calls `consume(bytes)` for each block of the file; throws naming the file when a read fails.
template <typename Consume>
void read_blocks(const std::string& path, std::string& block, Consume consume) {
  std::ifstream in = open_text(path);
  while (in) {
    block.resize(kBlockBytes);
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    block.resize(static_cast<size_t>(in.gcount()));
    if (in.bad()) throw std::runtime_error(path + ": read error (check the disk)");
    if (!block.empty()) consume(block);
  }
}

// The files' total size, for progress shares (a file that vanished counts 0; reading it fails later).
uint64_t total_size(const std::vector<std::string>& files) {
  uint64_t total = 0;
  for (const auto& file : files) {
    std::error_code error;
    const uintmax_t size = fs::file_size(file, error);
    if (!error) total += size;
  }
  return total;
}

std::string megabytes(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

// The token writer: narrows to the file's width, counts.
class TokenSink {
 public:
  TokenSink(AtomicFileWriter& out, uint32_t token_bytes) : out_(out), token_bytes_(token_bytes) {}
  void append(const std::vector<int32_t>& ids) {
    if (token_bytes_ == 4) {
      out_.write(ids.data(), ids.size() * 4);
    } else {
      narrow_.assign(ids.begin(), ids.end());
      out_.write(narrow_.data(), narrow_.size() * 2);
    }
    count_ += ids.size();
  }
  uint64_t count() const { return count_; }

 private:
  AtomicFileWriter& out_;
  uint32_t token_bytes_;
  std::vector<uint16_t> narrow_;
  uint64_t count_ = 0;
};

}  // namespace

uint64_t corpus_fingerprint(const std::vector<std::string>& files, const Tokenizer& tokenizer, double val_fraction) {
  uint64_t h = fnv1a(tokenizer.id().data(), tokenizer.id().size());
  std::string block;
  for (const auto& file : files) read_blocks(file, block, [&](const std::string& b) { h = fnv1a(b.data(), b.size(), h); });
  return fnv1a(&val_fraction, sizeof val_fraction, h);
}

TokenFileHeader tokenize_corpus(const CorpusTokenization& job, const Tokenizer& tokenizer, uint64_t fingerprint) {
  const uint64_t total_bytes = total_size(job.files);
  TokenFileHeader h{};
  std::memcpy(h.magic, kTokenFileMagic, sizeof kTokenFileMagic);
  h.version = kTokenFileVersion;
  h.token_bytes = tokenizer.vocab_size() <= 65536 ? 2 : 4;
  h.vocab_size = static_cast<uint64_t>(tokenizer.vocab_size());
  h.fingerprint = fingerprint;
  std::strncpy(h.tokenizer_id, tokenizer.id().c_str(), sizeof h.tokenizer_id - 1);

  const fs::path parent = fs::absolute(job.out_path).parent_path();
  fs::create_directories(parent);
  AtomicFileWriter out(job.out_path);
  out.write(&h, sizeof h);  // counts unknown yet: rewritten at the end
  TokenSink sink(out, h.token_bytes);

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto last_report = start;
  uint64_t done_bytes = 0;
  auto report = [&](bool final) {
    if (!job.progress) return;
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const double rate = seconds > 0 ? static_cast<double>(done_bytes) / 1e6 / seconds : 0.0;
    char line[160];
    if (final)
      std::snprintf(line, sizeof line, "tokenized %s into %llu tokens in %.1f s (%.1f MB/s)",
                    megabytes(done_bytes).c_str(), static_cast<unsigned long long>(sink.count()), seconds, rate);
    else
      std::snprintf(line, sizeof line, "tokenizing: %.1f%% of %s, %.1f MB/s",
                    total_bytes ? 100.0 * static_cast<double>(done_bytes) / static_cast<double>(total_bytes) : 100.0,
                    megabytes(total_bytes).c_str(), rate);
    *job.progress << line << std::endl;
  };

  std::string block, pending;
  for (const auto& file : job.files) {
    pending.clear();
    read_blocks(file, block, [&](const std::string& b) {
      pending += b;
      size_t cut = pending.rfind('\n');
      if (cut == std::string::npos && pending.size() >= kMaxLineBytes) cut = pending.size() - 1;
      if (cut != std::string::npos) {
        sink.append(tokenizer.encode(pending.substr(0, cut + 1)));
        pending.erase(0, cut + 1);
      }
      done_bytes += b.size();
      if (job.bytes_done) *job.bytes_done += b.size();
      if (Clock::now() - last_report >= std::chrono::seconds(2)) {
        report(false);
        last_report = Clock::now();
      }
    });
    if (!pending.empty()) sink.append(tokenizer.encode(pending));
  }
  const uint64_t n = sink.count();
  const auto n_val = static_cast<uint64_t>(static_cast<double>(n) * job.val_fraction);
  if (job.require_split && (n_val < 2 || n - n_val < 2))
    throw std::runtime_error("corpus of " + std::to_string(n) + " tokens is too small for a train/val split");
  h.n_train = n - n_val;
  h.n_val = n_val;
  out.rewrite_at(0, &h, sizeof h);
  out.commit();
  report(true);
  return h;
}

namespace {

// The index an earlier run left, if it is readable; else an empty one.
TokenIndex previous_index(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    return parse_token_index(text, path);
  } catch (const std::runtime_error&) {
    return {};
  }
}

}  // namespace

TokenIndex tokenize_corpus_shards(const ShardedCorpusTokenization& job, const Tokenizer& tokenizer) {
  if (job.files.empty()) throw std::invalid_argument("no input files to tokenize");
  fs::create_directories(job.out_dir);
  const std::string index_path = (fs::path(job.out_dir) / kTokenIndexFile).string();
  const TokenIndex before = previous_index(index_path);
  fs::remove(index_path);  // from here until the new index, the directory is not a corpus
  const uint32_t token_bytes = tokenizer.vocab_size() <= 65536 ? 2 : 4;
  std::map<std::string, TokenShardEntry> reusable;
  if (before.tokenizer_id == tokenizer.id() && before.val_fraction == job.val_fraction)
    for (const auto& entry : before.shards) reusable[entry.file] = entry;

  TokenIndex index{tokenizer.id(), static_cast<uint64_t>(tokenizer.vocab_size()), token_bytes, job.val_fraction, {}};
  index.shards.resize(job.files.size());
  std::atomic<size_t> next{0}, finished{0};
  std::atomic<uint64_t> bytes_done{0};
  std::mutex mutex;
  std::condition_variable changed;
  std::exception_ptr failure;
  auto work = [&] {
    for (size_t i = next++; i < job.files.size(); i = next++) {
      try {
        TokenShardEntry& entry = index.shards[i];
        entry.file = token_shard_name(i);
        entry.source = job.files[i];
        entry.fingerprint = corpus_fingerprint({job.files[i]}, tokenizer, job.val_fraction);
        const std::string shard = (fs::path(job.out_dir) / entry.file).string();
        const auto old = reusable.find(entry.file);
        std::error_code error;
        if (old != reusable.end() && old->second.source == entry.source &&
            old->second.fingerprint == entry.fingerprint &&
            fs::file_size(shard, error) == sizeof(TokenFileHeader) + old->second.tokens * token_bytes) {
          entry.tokens = old->second.tokens;  // unchanged since the last run
          bytes_done += total_size({job.files[i]});
        } else {
          CorpusTokenization one{{job.files[i]}, shard, job.val_fraction, nullptr, false, &bytes_done};
          const TokenFileHeader h = tokenize_corpus(one, tokenizer, entry.fingerprint);
          entry.tokens = h.n_train + h.n_val;
        }
      } catch (...) {
        const std::lock_guard<std::mutex> lock(mutex);
        if (!failure) failure = std::current_exception();
        next = job.files.size();  // the others stop taking files
      }
      ++finished;
      changed.notify_all();
    }
  };
  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  const size_t threads =
      std::min(job.files.size(), static_cast<size_t>(job.threads > 0 ? static_cast<unsigned>(job.threads) : hardware));
  const uint64_t total_bytes = total_size(job.files);
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t) workers.emplace_back(work);
  {
    std::unique_lock<std::mutex> lock(mutex);
    while (!changed.wait_for(lock, std::chrono::seconds(2), [&] { return finished.load() >= job.files.size() || failure; })) {
      if (!job.progress) continue;
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      char line[160];
      std::snprintf(line, sizeof line, "tokenizing: %.1f%% of %s in %zu files, %.1f MB/s",
                    total_bytes ? 100.0 * static_cast<double>(bytes_done) / static_cast<double>(total_bytes) : 100.0,
                    megabytes(total_bytes).c_str(), job.files.size(), static_cast<double>(bytes_done) / 1e6 / seconds);
      *job.progress << line << std::endl;
    }
  }
  for (auto& worker : workers) worker.join();
  if (failure) std::rethrow_exception(failure);
  // Shards of an earlier, larger run that this index does not list.
  for (const auto& [file, entry] : reusable)
    if (file >= token_shard_name(job.files.size())) fs::remove(fs::path(job.out_dir) / file);
  write_file_atomic(index_path, token_index_json(index));
  if (job.progress) {
    uint64_t tokens = 0;
    for (const auto& entry : index.shards) tokens += entry.tokens;
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    char line[200];
    std::snprintf(line, sizeof line, "tokenized %s into %llu tokens in %zu shards in %.1f s (%.1f MB/s, %zu threads)",
                  megabytes(total_bytes).c_str(), static_cast<unsigned long long>(tokens), index.shards.size(), seconds,
                  seconds > 0 ? static_cast<double>(total_bytes) / 1e6 / seconds : 0.0, threads);
    *job.progress << line << std::endl;
  }
  return index;
}

}  // namespace ternary
