#include "train/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "common/atomic_file.h"

namespace ternary {
namespace {

// Keeps the records of steps <= last_step (a resumed run rewrites what came after).
void truncate_metrics(const std::string& path, int64_t last_step) {
  std::ifstream in(path);
  if (!in) return;
  std::vector<std::string> kept;
  for (std::string line; std::getline(in, line);) {
    const auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_object() && record.value("step", int64_t{0}) <= last_step) kept.push_back(line);
  }
  in.close();
  std::string text;
  for (const auto& line : kept) text += line + "\n";
  write_file_atomic(path, text);
}

std::string duration(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, seconds));
  char text[32];
  if (s >= 3600) std::snprintf(text, sizeof text, "%lldh%02lldm", (long long)(s / 3600), (long long)(s / 60 % 60));
  else std::snprintf(text, sizeof text, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  return text;
}

}  // namespace

TrainingProgress::TrainingProgress(const std::string& metrics_path, int64_t start_step, int64_t total_steps,
                                   int64_t log_every, std::ostream* log, const std::string& tensorboard_dir)
    : metrics_path_(metrics_path),
      log_(log),
      terminal_(log == &std::cerr && ::isatty(STDERR_FILENO)),
      start_step_(start_step),
      total_steps_(total_steps),
      log_every_(log_every),
      start_time_(std::chrono::steady_clock::now()) {
  truncate_metrics(metrics_path, start_step);
  metrics_.open(metrics_path, std::ios::app);
  if (!metrics_) throw std::runtime_error("cannot write metrics file " + metrics_path + " (check output_dir)");
  if (!tensorboard_dir.empty()) tensorboard_ = std::make_unique<TensorBoardWriter>(tensorboard_dir, start_step + 1);
}

void TrainingProgress::on_step(const StepMetrics& m) {
  nlohmann::json record{{"step", m.step}, {"loss", m.loss}, {"lr", m.lr}, {"lambda", m.lambda},
                        {"grad_norm", m.grad_norm}, {"tokens_per_s", m.tokens_per_second}};
  if (m.skipped) record["skipped"] = true;  // non-finite loss or gradient: no update
  append_metrics(record.dump());
  if (tensorboard_)
    for (const auto& [tag, value] : {std::pair{"train/loss", m.loss}, {"train/lr", m.lr}, {"train/lambda", m.lambda},
                                     {"train/grad_norm", m.grad_norm}, {"train/tokens_per_s", m.tokens_per_second}})
      tensorboard_->scalar(tag, m.step, static_cast<float>(value));
  if (!log_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time_).count();
  const double eta = elapsed / static_cast<double>(m.step - start_step_) * static_cast<double>(total_steps_ - m.step);
  char line[200];
  std::snprintf(line, sizeof line, "step %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  ETA %s", (long long)m.step,
                (long long)total_steps_, m.loss, m.lr, m.tokens_per_second, duration(eta).c_str());
  if (terminal_) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * m.step / std::max<int64_t>(1, total_steps_));
    *log_ << "\r[" << std::string(filled, '#') << std::string(kWidth - filled, '.') << "] " << line << "\033[K"
          << std::flush;
    bar_open_ = true;
  } else if (m.step % log_every_ == 0 || m.step == total_steps_) {
    *log_ << line << std::endl;
  }
}

void TrainingProgress::on_eval(const EvalMetrics& m) {
  nlohmann::json record{{"step", m.step}, {"val_loss", m.val_loss}, {"val_ppl", std::exp(m.val_loss)}};
  if (!m.sample.empty()) record["sample"] = m.sample;
  append_metrics(record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (tensorboard_) {
    tensorboard_->scalar("val/loss", m.step, static_cast<float>(m.val_loss));
    tensorboard_->scalar("val/perplexity", m.step, static_cast<float>(std::exp(m.val_loss)));
  }
  std::ostringstream text;
  text << "step " << m.step << ": val loss " << m.val_loss << ", perplexity " << std::exp(m.val_loss);
  if (!m.sample.empty()) text << "\n--- sample ---\n" << m.sample << "\n--------------";
  message(text.str());
}

void TrainingProgress::append_metrics(const std::string& json_line) {
  metrics_ << json_line << "\n";
  metrics_.flush();
  if (!metrics_) throw std::runtime_error("cannot write metrics file " + metrics_path_ + " (disk full?)");
}

void TrainingProgress::message(const std::string& text) {
  if (!log_) return;
  if (bar_open_) *log_ << "\n";
  bar_open_ = false;
  *log_ << text << std::endl;
}

}  // namespace ternary
