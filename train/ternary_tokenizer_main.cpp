// ternary-tokenizer: the corpus side of training, without LibTorch.
//   train   a SentencePiece model (libsentencepiece's trainer) from text files, directories or
//           globs, streamed line by line, for data.tokenizer: sentencepiece
//   encode  text into a tokenized corpus for data.tokenized: one file, or with --shards a
//           directory of shards, one per input file, tokenized in parallel (train/token_index.h)
// Exit codes: 0 done, 1 the job failed (a one-line error names why), 2 usage.
#include <sentencepiece_trainer.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "common/atomic_file.h"
#include "common/cli.h"
#include "common/tokenizer.h"
#include "train/corpus_files.h"
#include "train/corpus_tokenization.h"

namespace ternary {
namespace {

// The input files' lines, one sentence each (empty lines skipped), read as SentencePiece asks.
class LineIterator : public sentencepiece::SentenceIterator {
 public:
  explicit LineIterator(std::vector<std::string> files) : files_(std::move(files)) { Next(); }
  bool done() const override { return done_; }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override { return status_; }
  void Next() override {
    while (!done_) {
      if (in_.is_open() && std::getline(in_, line_)) {
        if (!line_.empty()) return;
        continue;
      }
      if (in_.is_open() && in_.bad()) {
        status_ = sentencepiece::util::Status(sentencepiece::util::StatusCode::kDataLoss,
                                              files_[next_ - 1] + ": read error");
        done_ = true;
        return;
      }
      in_.close();
      in_.clear();
      if (next_ == files_.size()) {
        done_ = true;
        return;
      }
      in_.open(files_[next_++], std::ios::binary);
      if (!in_) {
        status_ = sentencepiece::util::Status(sentencepiece::util::StatusCode::kNotFound,
                                              files_[next_ - 1] + ": cannot open");
        done_ = true;
      }
    }
  }

 private:
  std::vector<std::string> files_;
  size_t next_ = 0;
  std::ifstream in_;
  std::string line_;
  bool done_ = false;
  sentencepiece::util::Status status_;
};

struct TrainArguments {
  std::vector<std::string> inputs;
  std::string out, model_type = "bpe";
  int vocab_size = 0;
  double character_coverage = 0.9995;
  int64_t max_sentences = 2000000;
};

int train_tokenizer(const TrainArguments& a) {
  const std::vector<std::string> files = expand_text_files(a.inputs, "--input");
  // Lines beyond max_sentences are sampled (SentencePiece's reservoir), so memory stays bounded.
  const std::unordered_map<std::string, std::string> spec = {
      {"vocab_size", std::to_string(a.vocab_size)},
      {"model_type", a.model_type},
      {"character_coverage", std::to_string(a.character_coverage)},
      {"input_sentence_size", std::to_string(a.max_sentences)},
      {"shuffle_input_sentence", "true"},
      {"byte_fallback", "true"},  // every byte stays encodable, as LLaMA's tokenizer
      {"minloglevel", "1"},
  };
  LineIterator lines(files);
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(spec, &lines, &model);
  if (!status.ok()) throw std::runtime_error("SentencePiece training failed: " + std::string(status.message()));
  write_file_atomic(a.out, model);
  const Tokenizer check = Tokenizer::from_file(TokenizerKind::kSentencePiece, a.out);  // it loads as training will
  std::cerr << "ternary-tokenizer: wrote " << a.out << " (" << check.vocab_size() << " pieces, " << a.model_type
            << ", from " << files.size() << " file" << (files.size() == 1 ? "" : "s") << ")" << std::endl;
  return 0;
}

struct EncodeArguments {
  std::vector<std::string> inputs;
  std::string out, tokenizer = "bytes", model;
  double val_fraction = 0.1;
  bool shards = false;
  int threads = 0;
};

int encode_corpus(const EncodeArguments& a) {
  const TokenizerKind kind = parse_tokenizer_kind(a.tokenizer);
  if (kind == TokenizerKind::kSentencePiece && a.model.empty())
    throw std::invalid_argument("--tokenizer sentencepiece needs --model path/to/tokenizer.model");
  const Tokenizer tokenizer = Tokenizer::from_file(kind, a.model);
  std::vector<std::string> files = expand_text_files(a.inputs, "--input");
  if (a.shards) {
    tokenize_corpus_shards({std::move(files), a.out, a.val_fraction, a.threads, &std::cerr}, tokenizer);
    return 0;
  }
  CorpusTokenization job{std::move(files), a.out, a.val_fraction, &std::cerr};
  tokenize_corpus(job, tokenizer, corpus_fingerprint(job.files, tokenizer, a.val_fraction));
  return 0;
}

}  // namespace
}  // namespace ternary

int main(int argc, char** argv) {
  CLI::App app{"ternary-tokenizer: train a SentencePiece tokenizer, or tokenize a corpus for ternary-train"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("ternary-tokenizer ") + TERNARY_ENGINE_VERSION);

  ternary::TrainArguments t;
  CLI::App* train = app.add_subcommand("train", "train a SentencePiece model (data.tokenizer: sentencepiece)");
  train->add_option("--input", t.inputs, "text files, directories or glob patterns (quote globs)")->required();
  train->add_option("--vocab-size", t.vocab_size, "pieces in the vocabulary")->required()->check(CLI::Range(8, 1 << 20));
  train->add_option("--out", t.out, "the model file to write, e.g. tokenizer.model")->required();
  train->add_option("--model-type", t.model_type, "bpe (as LLaMA) or unigram")
      ->check(CLI::IsMember({"bpe", "unigram"}));
  train->add_option("--character-coverage", t.character_coverage, "share of characters the vocabulary covers")
      ->check(CLI::Range(0.5, 1.0));
  train->add_option("--max-sentences", t.max_sentences, "lines sampled for training (bounds memory)")
      ->check(CLI::Range(int64_t{1000}, int64_t{1} << 32));

  ternary::EncodeArguments e;
  CLI::App* encode = app.add_subcommand("encode", "tokenize text into a corpus file (data.tokenized)");
  encode->add_option("--input", e.inputs, "text files, directories or glob patterns (quote globs)")->required();
  encode->add_option("--out", e.out, "the tokenized file to write, e.g. corpus.tokens (with --shards: a directory)")
      ->required();
  encode->add_flag("--shards", e.shards,
                   "write a directory of shards, one per input file, in parallel; unchanged files keep their shard");
  encode->add_option("--threads", e.threads, "files tokenized at once with --shards (default: the hardware's)")
      ->check(CLI::Range(1, 1024));
  encode->add_option("--tokenizer", e.tokenizer, "bytes or sentencepiece")
      ->check(CLI::IsMember({"bytes", "sentencepiece"}));
  encode->add_option("--model", e.model, "the SentencePiece model (with --tokenizer sentencepiece)");
  encode->add_option("--val-fraction", e.val_fraction, "tail of the tokens held out for validation")
      ->check(CLI::Range(0.0001, 0.5));

  if (const int exit_code = ternary::cli::parse(app, argc, argv); exit_code >= 0) return exit_code;
  try {
    if (train->parsed()) return ternary::train_tokenizer(t);
    return ternary::encode_corpus(e);
  } catch (const std::invalid_argument& error) {
    std::cerr << "ternary-tokenizer: error: " << error.what() << std::endl;
    return ternary::cli::kUsageError;
  } catch (const std::exception& error) {
    std::cerr << "ternary-tokenizer: error: " << error.what() << std::endl;
    return 1;
  }
}
