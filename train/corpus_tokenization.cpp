#include "train/corpus_tokenization.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <stdexcept>

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
  uint64_t total_bytes = 0;
  for (const auto& file : job.files) {
    std::error_code error;
    total_bytes += fs::file_size(file, error);
  }
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
      if (Clock::now() - last_report >= std::chrono::seconds(2)) {
        report(false);
        last_report = Clock::now();
      }
    });
    if (!pending.empty()) sink.append(tokenizer.encode(pending));
  }
  const uint64_t n = sink.count();
  const auto n_val = static_cast<uint64_t>(static_cast<double>(n) * job.val_fraction);
  if (n_val < 2 || n - n_val < 2)
    throw std::runtime_error("corpus of " + std::to_string(n) + " tokens is too small for a train/val split");
  h.n_train = n - n_val;
  h.n_val = n_val;
  out.rewrite_at(0, &h, sizeof h);
  out.commit();
  report(true);
  return h;
}

}  // namespace ternary
