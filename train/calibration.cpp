#include "train/calibration.h"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <c10/util/Exception.h>
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <algorithm>

#include <chrono>
#include <cstdio>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "common/config_error.h"
#include "common/fnv1a.h"
#include "models/llama_input_sites.h"
#include "modules/quant_slot_names.h"
#include "modules/quantize.h"
#include "quantizers/awq.h"
#include "quantizers/weight_rounding.h"
#include "train/checkpoint.h"

namespace ternary {
namespace {

constexpr const char* kFormat = "ternary calibration statistics v1";
constexpr const char* kHessianSuffix = ".hessian";
constexpr const char* kAbsMeanSuffix = ".abs_mean";

std::string layer_file(int64_t index) {
  char name[32];
  std::snprintf(name, sizeof(name), "layer_%04lld.pt", static_cast<long long>(index));
  return name;
}

LlamaDecoderLayerImpl& decoder_layer(LlamaModel& model, int64_t index) {
  return *model->layers[index]->as<LlamaDecoderLayerImpl>();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Bypasses every quantizer (λ = 0 passes x through unchanged) while alive, then sets λ = 1:
// calibration runs before training, which sets its own λ at every step of a warm-up.
class FullPrecisionScope {
 public:
  explicit FullPrecisionScope(LlamaModel& model) : model_(model) { set_warmup_lambda(*model_, 0.0); }
  ~FullPrecisionScope() { set_warmup_lambda(*model_, 1.0); }

 private:
  LlamaModel& model_;
};

// Sums of XᵀX and |x| over the rows of every input an observer sees, in float64.
struct SiteAccumulator {
  at::Tensor xtx, abs_sum;
  int64_t rows = 0;
  void add(const at::Tensor& input) {
    const at::Tensor x = input.detach().reshape({-1, input.size(-1)}).to(at::kDouble);
    if (!xtx.defined()) {
      xtx = at::zeros({x.size(1), x.size(1)}, at::kDouble);
      abs_sum = at::zeros({x.size(1)}, at::kDouble);
    }
    xtx.addmm_(x.t(), x);
    abs_sum.add_(x.abs().sum(0));
    rows += x.size(0);
  }
};

bool has_gptq(CalibrationMethod m) { return m == CalibrationMethod::kGptq || m == CalibrationMethod::kAwqGptq; }
bool has_awq(CalibrationMethod m) { return m == CalibrationMethod::kAwq || m == CalibrationMethod::kAwqGptq; }

}  // namespace

std::string calibration_description(LlamaModel& model, const std::vector<at::Tensor>& batches) {
  uint64_t weights = kFnv1aOffsetBasis;
  for (const auto& p : model->named_parameters()) {
    if (is_quantizer_state(p.key())) continue;
    const at::Tensor data = p.value().detach().to(at::kFloat).contiguous();
    weights = fnv1a(p.key().data(), p.key().size(), weights);
    weights = fnv1a(data.data_ptr(), data.nbytes(), weights);
  }
  uint64_t tokens = kFnv1aOffsetBasis;
  int64_t sequences = 0, seq_len = 0;
  for (const auto& batch : batches) {
    const at::Tensor data = batch.to(at::kLong).contiguous();
    tokens = fnv1a(data.data_ptr(), data.nbytes(), tokens);
    sequences += batch.size(0);
    seq_len = batch.size(1);
  }
  std::ostringstream text;
  text << "format: " << kFormat << "\nweights_fnv1a: " << fnv1a_hex(weights) << "\nsequences: " << sequences
       << "\nseq_len: " << seq_len << "\ntokens_fnv1a: " << fnv1a_hex(tokens) << "\n";
  return text.str();
}

void collect_calibration_statistics(LlamaModel& model, const std::vector<at::Tensor>& batches, const std::string& dir,
                                    std::ostream* log) {
  const auto start = std::chrono::steady_clock::now();
  const std::string description = calibration_description(model, batches);
  at::NoGradGuard no_grad;
  FullPrecisionScope full_precision(model);
  std::vector<at::Tensor> hidden;
  for (const auto& batch : batches) hidden.push_back(model->embed_tokens->forward(batch));

  begin_checkpoint(dir);
  std::vector<std::string> parts;
  const int64_t n_layers = static_cast<int64_t>(model->layers->size());
  for (int64_t i = 0; i < n_layers; ++i) {
    LlamaDecoderLayerImpl& layer = decoder_layer(model, i);
    auto sites = input_sites(layer);
    std::vector<SiteAccumulator> sums(sites.size());
    // The linears of a site share one input: observing the first is enough.
    for (size_t s = 0; s < sites.size(); ++s)
      sites[s].linears.front().second->input_observer = [&sums, s](const at::Tensor& x) { sums[s].add(x); };
    for (auto& h : hidden) h = layer.forward(h);
    torch::serialize::OutputArchive archive;
    for (size_t s = 0; s < sites.size(); ++s) {
      sites[s].linears.front().second->input_observer = nullptr;
      const double n = static_cast<double>(sums[s].rows);
      archive.write(sites[s].name + kHessianSuffix, (sums[s].xtx / n).to(at::kFloat));
      archive.write(sites[s].name + kAbsMeanSuffix, (sums[s].abs_sum / n).to(at::kFloat));
    }
    parts.push_back(layer_file(i));
    write_checkpoint_part(dir, parts.back(), archive);
    if (log) *log << "calibration statistics: layer " << i + 1 << "/" << n_layers << "\n";
  }
  write_checkpoint(dir, torch::nn::Module(), nullptr, TrainerState{}, description, parts);
  if (log)
    *log << "calibration statistics written to " << dir << " in " << std::fixed << std::setprecision(1)
         << seconds_since(start) << " s\n";
}

CalibrationStatistics::CalibrationStatistics(std::unique_ptr<Checkpoint> checkpoint)
    : checkpoint_(std::move(checkpoint)) {}
CalibrationStatistics::~CalibrationStatistics() = default;
CalibrationStatistics::CalibrationStatistics(CalibrationStatistics&&) noexcept = default;

CalibrationStatistics CalibrationStatistics::open(const std::string& dir) {
  auto checkpoint = std::make_unique<Checkpoint>(Checkpoint::open(dir, FileReading::kOnDemand));
  if (checkpoint->config_yaml().rfind(std::string("format: ") + kFormat, 0) != 0)
    throw CheckpointError(dir + " is not a calibration statistics directory (" + kFormat + ")");
  return CalibrationStatistics(std::move(checkpoint));
}

const std::string& CalibrationStatistics::description() const { return checkpoint_->config_yaml(); }

int64_t CalibrationStatistics::n_layers() const {
  const auto names = checkpoint_->file_names();
  int64_t n = 0;
  while (std::find(names.begin(), names.end(), layer_file(n)) != names.end()) ++n;
  return n;
}

void CalibrationStatistics::verify() const {
  for (int64_t i = 0, n = n_layers(); i < n; ++i)
    checkpoint_->read_archive_file(layer_file(i), [](torch::serialize::InputArchive&) {});
}

std::map<std::string, SiteStatistics> CalibrationStatistics::layer(int64_t index) const {
  std::map<std::string, SiteStatistics> sites;
  checkpoint_->read_archive_file(layer_file(index), [&](torch::serialize::InputArchive& archive) {
    for (const auto& key : archive.keys()) {
      const std::string_view k(key);
      for (const std::string_view suffix : {std::string_view(kHessianSuffix), std::string_view(kAbsMeanSuffix)}) {
        if (!k.ends_with(suffix)) continue;
        at::Tensor value;
        try {
          archive.read(key, value);
        } catch (const c10::Error&) {
          throw CheckpointError(checkpoint_->dir() + "/" + layer_file(index) + ": '" + key + "' is not a tensor");
        }
        SiteStatistics& site = sites[std::string(k.substr(0, k.size() - suffix.size()))];
        (suffix == kHessianSuffix ? site.hessian : site.abs_mean) = value.to(at::kFloat);
      }
    }
  });
  return sites;
}

double CalibrationReport::mean_error_absmean() const {
  double sum = 0;
  for (const auto& l : linears) sum += l.error_absmean;
  return linears.empty() ? 0 : sum / static_cast<double>(linears.size());
}

double CalibrationReport::mean_error_after() const {
  double sum = 0;
  for (const auto& l : linears) sum += l.error_after;
  return linears.empty() ? 0 : sum / static_cast<double>(linears.size());
}

std::string CalibrationReport::to_json() const {
  nlohmann::ordered_json j;
  j["method"] = to_string(method);
  j["seconds"] = seconds;
  j["mean_relative_error_absmean"] = mean_error_absmean();
  j["mean_relative_error_after"] = mean_error_after();
  j["notes"] = notes;
  auto& rows = j["linears"] = nlohmann::ordered_json::array();
  for (const auto& l : linears)
    rows.push_back({{"name", l.name},
                    {"relative_error_absmean", l.error_absmean},
                    {"relative_error_after", l.error_after},
                    {"awq_alpha", l.awq_alpha},
                    {"seconds", l.seconds}});
  return j.dump(2) + "\n";
}

CalibrationReport calibrate_model(LlamaModel& model, const CalibrationStatistics& statistics,
                                  const CalibrationOptions& options, std::ostream* log) {
  const auto start = std::chrono::steady_clock::now();
  at::NoGradGuard no_grad;
  CalibrationReport report;
  report.method = options.method;
  const int64_t n_layers = static_cast<int64_t>(model->layers->size());
  if (statistics.n_layers() != n_layers)
    throw ConfigError("calibration statistics hold " + std::to_string(statistics.n_layers()) + " layers but the model has " +
                      std::to_string(n_layers) + "; delete them to collect new ones");
  for (int64_t i = 0; i < n_layers; ++i) {
    const std::string prefix = "layers." + std::to_string(i) + ".";
    const auto layer_statistics = statistics.layer(i);
    for (auto& site : input_sites(decoder_layer(model, i))) {
      const auto found = layer_statistics.find(site.name);
      if (found == layer_statistics.end() || !found->second.hessian.defined() || !found->second.abs_mean.defined())
        throw CheckpointError("calibration statistics lack " + prefix + site.name + "; delete them to collect new ones");
      const int64_t in = site.linears.front().second->options.in_features();
      if (found->second.hessian.sizes() != at::IntArrayRef{in, in} || found->second.abs_mean.sizes() != at::IntArrayRef{in})
        throw CheckpointError("calibration statistics for " + prefix + site.name + " do not fit its " + std::to_string(in) +
                              " inputs; delete them to collect new ones");
      const at::Tensor H = found->second.hessian.to(at::kDouble);
      std::vector<std::pair<std::string, QuantLinear>> quantized;
      for (auto& [name, linear] : site.linears) {
        if (!linear->weight_quantizer) continue;
        if (const std::string problem = codes_unsupported(linear->weight_quantizer->spec());
            !problem.empty() && options.method != CalibrationMethod::kAbsmean)
          throw ConfigError("init.calibrate: " + std::string(to_string(options.method)) + " cannot initialise " + prefix +
                            name + ": its weight quantizer's " + problem + "; use init.calibrate: absmean");
        quantized.emplace_back(name, linear);
      }
      if (quantized.empty()) continue;

      auto timer = std::chrono::steady_clock::now();
      std::vector<at::Tensor> originals;
      std::vector<QuantizerSpec> specs;
      for (auto& [name, linear] : quantized) {
        originals.push_back(linear->weight.detach().to(at::kFloat).clone());
        specs.push_back(linear->weight_quantizer->spec());
      }
      at::Tensor input_scales = at::ones({H.size(0)}, at::kFloat);
      double alpha = 0;
      if (has_awq(options.method)) {
        if (!site.norm) {
          report.notes.push_back(prefix + site.name + ": no RMSNorm produces its input, so AWQ left it unscaled");
        } else if (quantized.size() != site.linears.size()) {
          report.notes.push_back(prefix + site.name + ": a full-precision linear shares its input, so AWQ left it unscaled");
        } else {
          const AwqResult awq = awq_search(originals, specs, H, found->second.abs_mean, options.awq_grid);
          input_scales = awq.input_scales;
          alpha = awq.alpha;
          // x / s from the norm, W · diag(s) in the linears: the full-precision output is unchanged.
          site.norm->weight.div_(input_scales.to(site.norm->weight.scalar_type()));
        }
      }
      // The search's time is shared by the site's linears; each adds its own rounding's.
      const double shared_seconds = seconds_since(timer) / static_cast<double>(quantized.size());
      const at::Tensor scaled_H = H / (input_scales.to(at::kDouble).unsqueeze(1) * input_scales.to(at::kDouble).unsqueeze(0));
      for (size_t k = 0; k < quantized.size(); ++k) {
        timer = std::chrono::steady_clock::now();
        QuantLinearImpl& linear = *quantized[k].second;
        const at::Tensor& W = originals[k];
        const at::Tensor scaled = W * input_scales;
        at::Tensor latent = scaled;
        if (has_gptq(options.method)) {
          const TernaryRounding rounding = gptq_ternary(scaled, scaled_H, scales_per_row(specs[k]), options.gptq);
          latent = latent_for_codes(linear.weight_quantizer, rounding.codes, rounding.scale, rounding.residual);
        }
        linear.weight.copy_(latent);
        if (!has_gptq(options.method)) linear.weight_quantizer->attach(linear.weight);  // learned parts from the new weight

        const double reference = output_error(W, at::zeros_like(W), H);
        const at::Tensor restored = linear.weight_quantizer->encode(linear.weight).decode() / input_scales;
        LinearReport row;
        row.name = prefix + quantized[k].first;
        row.error_absmean = output_error(W, round_to_nearest(W, specs[k]), H) / reference;
        row.error_after = output_error(W, restored, H) / reference;
        row.awq_alpha = alpha;
        row.seconds = shared_seconds + seconds_since(timer);
        report.linears.push_back(row);
      }
    }
    if (log)
      *log << "calibration (" << to_string(options.method) << "): layer " << i + 1 << "/" << n_layers << "\n";
  }
  if (model->lm_head && model->lm_head->weight_quantizer)
    report.notes.push_back("lm_head is quantized but not calibrated: it is rounded to nearest as the recipe says");
  report.seconds = seconds_since(start);
  if (log)
    *log << "calibration (" << to_string(options.method) << "): mean relative output error " << std::setprecision(4)
         << report.mean_error_absmean() << " (absmean) -> " << report.mean_error_after() << " in " << std::setprecision(1)
         << std::fixed << report.seconds << " s\n";
  return report;
}

}  // namespace ternary
