#include "train/trainer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/cuda.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/serialize/archive.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>

#include "common/atomic_file.h"
#include "common/threads.h"
#include "models/hf_import.h"
#include "modules/quant_slot_names.h"
#include "modules/quantize.h"
#include "models/autocast_scope.h"
#include "train/calibration.h"
#include "train/distillation.h"
#include "train/distributed_group.h"
#include "train/gradient_reducer.h"
#include "train/optimizer_shards.h"
#include "train/lr_schedule.h"
#include "train/make_optimizer.h"
#include "train/sampling.h"
#include "train/step_in_backward.h"

namespace ternary {
namespace fs = std::filesystem;
namespace {

// A model as a trained checkpoint describes it (shape and recipe from its config.yaml).
LlamaModel model_from_checkpoint(const std::string& dir, bool include_quantizer_state, const Recipe* recipe) {
  const Checkpoint checkpoint = Checkpoint::open(dir);
  const TrainConfig saved = TrainConfig::parse(checkpoint.config_yaml(), dir + "/config.yaml");
  LlamaModel model(saved.model, recipe ? *recipe : saved.quantization.recipe());
  checkpoint.load_model(*model, include_quantizer_state);
  if (!include_quantizer_state) model->initialize_quantizers();  // from the loaded weights
  return model;
}

// training.master_weights: bf16. Matrices are converted one at a time, so only one exists in both
// dtypes at once.
void convert_weight_matrices(LlamaModelImpl& model, at::ScalarType dtype) {
  at::NoGradGuard no_grad;
  for (auto& p : model.named_parameters())
    if (uses_weight_decay(p.key(), p.value())) p.value().set_data(p.value().to(dtype));
}

// training.grad_clip_scope: parameter. Each gradient is clipped to its own norm; returns the
// global norm before clipping.
double clip_each_gradient(const std::vector<at::Tensor>& parameters, double max_norm) {
  double squared = 0;
  for (auto p : parameters) {
    if (!p.grad().defined()) continue;
    const double norm = clip_to_own_norm(p.mutable_grad(), max_norm);
    squared += norm * norm;
  }
  return std::sqrt(squared);
}

}  // namespace

bool uses_weight_decay(const std::string& parameter_name, const at::Tensor& parameter) {
  return parameter.dim() >= 2 && !is_quantizer_state(parameter_name);
}

// The temporary Checkpoint lives until the delegated constructor returns.
Trainer::Trainer(TrainConfig config, const std::string& resume_checkpoint, std::ostream* log, DistributedGroup* group)
    : Trainer(std::move(config),
              resume_checkpoint.empty() ? nullptr
                                        : std::make_unique<Checkpoint>(Checkpoint::open(resume_checkpoint)).get(),
              log, group) {}

Trainer::~Trainer() = default;

Trainer::Trainer(TrainConfig config, const Checkpoint* resume, std::ostream* log, DistributedGroup* group)
    : config_(std::move(config)), log_(log), group_(group) {
  if (config_.threads < 0 || config_.threads > max_threads())
    throw ConfigError("threads: " + std::to_string(config_.threads) + " is outside 0.." + std::to_string(max_threads()) +
                      " (0 = LibTorch's default, at most 4 x the hardware threads)");
  if (config_.threads > 0) at::set_num_threads(static_cast<int>(config_.threads));
  if (config_.device == Device::kCuda) {
    if (!torch::cuda::is_available())
      throw std::runtime_error("device: cuda, but LibTorch sees no CUDA GPU (this build or machine is CPU-only); "
                               "set device: cpu");
#if !TERNARY_WITH_CUDA
    if (is_8bit(config_.optimizer.name))
      throw std::runtime_error(std::string("device: cuda with optimizer ") + to_string(config_.optimizer.name) +
                               ": this build has no CUDA kernels for 8-bit optimizers; rebuild with "
                               "-DTERNARY_ENABLE_CUDA=ON (scripts/build_gpu.sh) or use optimizer.name: adamw");
#endif
    if (group_)
      throw DistributedError("device: cuda with WORLD_SIZE=" + std::to_string(world_size()) + ": this build's c10d "
                             "has Gloo only (NCCL comes with a CUDA LibTorch build); run the ranks with device: cpu");
    device_ = at::Device(at::kCUDA);
  }
  if (!resume && !list_step_checkpoints(config_.output_dir + "/checkpoints").empty())
    throw std::runtime_error("output_dir " + config_.output_dir + " already holds a run's checkpoints; continue it "
                             "with --resume " + config_.output_dir + ", or pick another --set output_dir=DIR");
  fs::create_directories(config_.output_dir);
  // Rank 0 tokenizes (or checks) the corpus cache; the others open it once it is there.
  const std::string tokenizing = "rank 0's tokenization of the corpus";
  if (group_ && !is_main()) group_->barrier(tokenizing);
  prepare_data();
  if (group_ && is_main()) group_->barrier(tokenizing);
  at::manual_seed(static_cast<uint64_t>(config_.seed));
  data_generator_ = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(config_.seed));
  if (!resume) {
    build_model();
    calibrate_initial_weights();
  } else model_ = LlamaModel(config_.model, config_.quantization.recipe());
  model_->to(device_);
  if (config_.training.master_weights == MasterWeights::kBf16) convert_weight_matrices(*model_, at::kBFloat16);
  model_->set_activation_checkpointing(config_.training.activation_checkpointing);
  if (config_.distillation.enabled()) build_teacher();
  if (resume) resume->load_model(*model_, /*include_quantizer_state=*/true);
  if (group_) {  // every rank starts from rank 0's weights (and quantizer state)
    std::vector<at::Tensor> parameters = model_->parameters();
    {
      at::NoGradGuard no_grad;
      group_->broadcast(parameters, 0, "the broadcast of rank 0's weights");
    }
    sharded_ = config_.optimizer.shard_state && world_size() > 1;
    gradient_reducer_ = std::make_unique<GradientReducer>(
        parameters, *group_, static_cast<int64_t>(config_.distributed.bucket_mb * 1024 * 1024),
        sharded_ ? GradientReducer::Mode::kReduceScatter : GradientReducer::Mode::kAllReduce);
  }
  build_optimizer();
  if (group_ && log_)
    *log_ << "data parallel: " << world_size() << " ranks, global batch " << config_.training.batch_size << " x "
          << world_size() << " x " << config_.training.grad_accum << " sequences, "
          << gradient_reducer_->bucket_count() << " gradient buckets, optimizer state "
          << (sharded_ ? "sharded" : "replicated") << std::endl;
  if (resume) {
    load_optimizer_state(*resume);
    state_ = resume->trainer_state();
    try {
      data_generator_.set_state(state_.rng_state);
    } catch (const c10::Error& e) {
      throw CheckpointError("checkpoint file " + resume->dir() + "/trainer.pt holds an unusable data RNG state (" +
                            e.what_without_backtrace() + "); use another checkpoint");
    }
    if (log_) *log_ << "resumed from " << resume->dir() << " at step " << state_.step << std::endl;
  }
}

void Trainer::zero_gradients() {
  if (!sharded_) {
    optimizer_->zero_grad();
    return;
  }
  // The optimizer's pieces have gradients that are views of the reduction buffer: dropped, not
  // zeroed in place; the parameters' own gradients are dropped too.
  for (auto& range : shard_ranges_) range.values.mutable_grad() = at::Tensor();
  model_->zero_grad();
}

double Trainer::clip_sharded_gradients(double max_norm) {
  // The global norm from each rank's share, then clip_grad_norm_'s rule on the own pieces.
  at::Tensor squared = at::full({1}, gradient_reducer_->own_squared_gradient_norm(), at::kDouble);
  group_->all_reduce_sum(squared, "the gradient-norm all-reduce");
  const double norm = std::sqrt(squared.item<double>());
  if (std::isfinite(norm)) {
    const double coefficient = max_norm / (norm + 1e-6);
    if (coefficient < 1.0) gradient_reducer_->scale_own_gradients(coefficient);
  }
  return norm;
}

AutocastScope Trainer::bf16_weight_scope() const {
  // Eval and samples run in fp32 unless the weights themselves are bf16: then a bf16 matmul is
  // the only kind their mixed dtypes allow.
  return AutocastScope(config_.training.master_weights == MasterWeights::kBf16, device_.type());
}

bool Trainer::is_main() const { return !group_ || group_->is_main(); }

int64_t Trainer::world_size() const { return group_ ? group_->world_size() : 1; }

bool Trainer::any_rank_requests_stop(bool local_request) {
  if (!group_) return local_request;
  at::Tensor flag = at::full({1}, local_request ? 1 : 0, at::kInt);
  group_->all_reduce_max(flag, "the stop-request exchange");
  return flag.item<int>() != 0;
}

void Trainer::prepare_data() {
  const DataConfig& d = config_.data;
  tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::from_file(d.tokenizer, d.tokenizer_model));
  if (!d.tokenized.empty()) {
    dataset_ = std::make_unique<TokenDataset>(TokenDataset::open(d.tokenized));
  } else {
    TokenDatasetOptions options{d.text_files, d.cache.empty() ? config_.output_dir + "/tokens.bin" : d.cache,
                                d.val_fraction, is_main() ? log_ : nullptr};
    dataset_ = std::make_unique<TokenDataset>(TokenDataset::prepare(options, *tokenizer_));
  }
  if (config_.model.vocab_size == 0) config_.model.vocab_size = std::max(tokenizer_->vocab_size(), dataset_->vocab_size());
  if (dataset_->vocab_size() > config_.model.vocab_size)
    throw ConfigError("model.vocab_size (" + std::to_string(config_.model.vocab_size) + ") is smaller than the data's " +
                      std::to_string(dataset_->vocab_size()) + " token ids; set model.vocab_size: auto");
  const int64_t T = config_.training.seq_len;
  if (dataset_->train_tokens() <= T + 1)
    throw std::runtime_error("the training split has " + std::to_string(dataset_->train_tokens()) +
                             " tokens, too few for training.seq_len " + std::to_string(T) + "; add text or lower seq_len");
  if (dataset_->val_tokens() <= T)
    throw std::runtime_error("the validation split has " + std::to_string(dataset_->val_tokens()) +
                             " tokens, too few for one window of training.seq_len " + std::to_string(T) +
                             "; raise data.val_fraction or lower seq_len");
  // Batches of the global batch size: a data-parallel run validates on what one process would.
  val_batches_ = dataset_->val_batches(config_.training.batch_size * world_size(), T, config_.eval.batches);
}

void Trainer::build_model() {
  const Recipe recipe = config_.quantization.recipe();
  const InitConfig& init = config_.init;
  if (init.from == ModelSource::kScratch) {
    model_ = LlamaModel(config_.model, recipe);
  } else if (init.from == ModelSource::kHf) {
    model_ = load_hf_llama(init.path, recipe);
    const int64_t seq_len = config_.training.seq_len;
    config_.model = model_->config();
    if (seq_len > config_.model.max_seq_len)
      throw ConfigError("training.seq_len (" + std::to_string(seq_len) + ") exceeds the Hugging Face model's " +
                        "max_position_embeddings (" + std::to_string(config_.model.max_seq_len) + ")");
  } else {  // checkpoint: its shape, this run's recipe; quantizers re-initialised from the weights
    model_ = model_from_checkpoint(init.path, /*include_quantizer_state=*/false, &recipe);
    config_.model = model_->config();
  }
  if (dataset_->vocab_size() > config_.model.vocab_size)
    throw ConfigError("init.path " + init.path + ": the model's vocab_size (" + std::to_string(config_.model.vocab_size) +
                      ") is smaller than the data's (" + std::to_string(dataset_->vocab_size()) +
                      "); use the model's own tokenizer");
}

void Trainer::calibrate_initial_weights() {
  const InitConfig& init = config_.init;
  if (init.calibrate == CalibrationMethod::kAbsmean) return;
  // Calibration windows come from their own generator: the training windows stay those of an
  // uncalibrated run.
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(config_.seed) ^ 0xca1bu);
  constexpr int64_t kSequencesPerBatch = 8;  // bounds one forward's working memory
  std::vector<at::Tensor> batches;
  for (int64_t left = init.calibration_sequences; left > 0; left -= kSequencesPerBatch)
    batches.push_back(
        dataset_->sample_train(std::min(left, kSequencesPerBatch), config_.training.seq_len, generator).first);
  const std::string dir =
      init.calibration_statistics.empty() ? config_.output_dir + "/calibration" : init.calibration_statistics;
  const std::string collecting = "rank 0's calibration statistics";
  if (group_ && !is_main()) group_->barrier(collecting);
  if (is_main()) {
    const std::string wanted = calibration_description(model_, batches);
    bool reusable = false;
    if (fs::exists(dir)) {
      try {
        const CalibrationStatistics existing = CalibrationStatistics::open(dir);
        if (existing.description() == wanted) {
          existing.verify();
          reusable = true;
        } else if (log_) {
          *log_ << "calibration statistics in " << dir << " are of other weights or tokens; collecting anew\n";
        }
      } catch (const CheckpointError& e) {
        if (log_) *log_ << "calibration statistics in " << dir << " are unusable (" << e.what() << "); collecting anew\n";
      }
    }
    if (reusable) {
      if (log_) *log_ << "calibration statistics: reusing " << dir << "\n";
    } else {
      collect_calibration_statistics(model_, batches, dir, log_);
    }
  }
  if (group_ && is_main()) group_->barrier(collecting);
  // Every rank calibrates from the same statistics, so all of them hold identical weights and
  // quantizer state.
  CalibrationOptions options;
  options.method = init.calibrate;
  options.gptq = {init.gptq_damp, init.gptq_block_size};
  options.awq_grid = init.awq_grid;
  const CalibrationReport report = calibrate_model(model_, CalibrationStatistics::open(dir), options, is_main() ? log_ : nullptr);
  if (is_main()) write_file_atomic(config_.output_dir + "/calibration_report.json", report.to_json());
}

void Trainer::build_teacher() {
  const DistillationConfig& d = config_.distillation;
  teacher_ = d.teacher_from == ModelSource::kHf ? load_hf_llama(d.teacher, Recipe{})
                                    : model_from_checkpoint(d.teacher, /*include_quantizer_state=*/true, nullptr);
  if (teacher_->config().vocab_size != config_.model.vocab_size)
    throw ConfigError("distillation.teacher " + d.teacher + " has vocab_size " +
                      std::to_string(teacher_->config().vocab_size) + " but the student has " +
                      std::to_string(config_.model.vocab_size) + "; teacher and student must share the tokenizer");
  teacher_->to(device_);
  teacher_->eval();
  for (auto& p : teacher_->parameters()) p.requires_grad_(false);
}

std::unique_ptr<torch::optim::Optimizer> Trainer::make_whole_optimizer() const {
  std::vector<at::Tensor> decay, no_decay;
  for (const auto& p : model_->named_parameters())
    (uses_weight_decay(p.key(), p.value()) ? decay : no_decay).push_back(p.value());
  return make_optimizer(config_.optimizer, decay, no_decay);
}

void Trainer::build_optimizer() {
  if (!sharded_) {
    optimizer_ = make_whole_optimizer();
  } else {
    build_sharded_optimizer();
  }
  auto* blockwise = dynamic_cast<Blockwise8bitOptimizer*>(optimizer_.get());
  if (config_.training.master_weights == MasterWeights::kBf16)  // 8-bit: TrainConfig checked
    blockwise->set_bf16_stochastic_rounding(static_cast<uint64_t>(config_.seed));
  if (config_.optimizer.step_in_backward) {
    if (group_)
      throw ConfigError("optimizer.step_in_backward runs in one process: with WORLD_SIZE=" +
                        std::to_string(world_size()) + " gradients are averaged across ranks after backward; "
                        "drop step_in_backward or run one process");
    const TrainingConfig& t = config_.training;
    const bool clips = t.grad_clip > 0 && t.grad_clip_scope == GradClipScope::kParameter;
    step_in_backward_ = std::make_unique<StepInBackward>(model_->parameters(), *blockwise, clips ? t.grad_clip : 0.0);
  }
}

void Trainer::build_sharded_optimizer() {
  // ZeRO-1: this rank's pieces only. Each keeps its whole parameter's weight decay and its
  // 8-bit-or-fp32 choice (min_8bit_size applies to the whole parameter), so the pieces' states are
  // exactly the unsharded optimizer's.
  const auto named = model_->named_parameters();
  std::vector<ParameterGroup> groups(4);  // decay x {8-bit, fp32}, no decay x {8-bit, fp32}
  for (int g = 0; g < 4; ++g) {
    groups[g].weight_decay = g < 2;
    groups[g].min_8bit_size = g % 2 == 0 ? 0 : std::numeric_limits<int64_t>::max();
  }
  for (const auto& piece : gradient_reducer_->own_pieces()) {
    const std::string& name = named[piece.parameter].key();
    const at::Tensor& parameter = named[piece.parameter].value();
    const bool decays = uses_weight_decay(name, parameter);
    const bool eight_bit = parameter.numel() >= config_.optimizer.min_8bit_size;
    groups[(decays ? 0 : 2) + (eight_bit ? 0 : 1)].parameters.push_back(piece.values);
    shard_ranges_.push_back({name, piece.offset, piece.values});
  }
  std::erase_if(groups, [](const ParameterGroup& g) { return g.parameters.empty(); });
  optimizer_ = make_optimizer(config_.optimizer, std::move(groups));
}

std::vector<StateRange> Trainer::whole_parameter_ranges() const {
  std::vector<StateRange> ranges;
  for (const auto& p : model_->named_parameters()) ranges.push_back({p.key(), 0, p.value()});
  return ranges;
}

void Trainer::load_optimizer_state(const Checkpoint& checkpoint) {
  std::vector<std::string> shards;
  for (const auto& name : checkpoint.file_names())
    if (is_optimizer_shard_file(name)) shards.push_back(name);
  if (!sharded_ && shards.empty()) {
    checkpoint.load_optimizer(*optimizer_, device_);
    return;
  }
  auto* blockwise = dynamic_cast<Blockwise8bitOptimizer*>(optimizer_.get());
  if (!blockwise)
    throw CheckpointError("checkpoint " + checkpoint.dir() + " holds a sharded 8-bit optimizer state; resume with "
                          "the 8-bit optimizer it was trained with (optimizer.name)");
  std::vector<SavedRange> saved;
  if (shards.empty()) {  // an unsharded checkpoint, resumed sharded: read it whole, then cut
    const auto whole = make_whole_optimizer();
    checkpoint.load_optimizer(*whole, device_);
    saved = whole_parameter_states(dynamic_cast<const Blockwise8bitOptimizer&>(*whole), whole_parameter_ranges());
  }
  for (const auto& shard : shards)
    checkpoint.read_archive_file(shard, [&](torch::serialize::InputArchive& archive) {
      for (auto& range : read_range_states(archive, checkpoint.dir() + "/" + shard)) saved.push_back(std::move(range));
    });
  restore_range_states(*blockwise, sharded_ ? shard_ranges_ : whole_parameter_ranges(), saved);
}

at::Tensor Trainer::loss_of(const at::Tensor& inputs, const at::Tensor& targets) {
  const at::Tensor logits = model_->forward(inputs);
  const int64_t vocab = logits.size(-1);
  at::Tensor loss = at::cross_entropy_loss(logits.reshape({-1, vocab}), targets.reshape({-1}));
  if (teacher_) {
    at::Tensor teacher_logits;
    {
      at::NoGradGuard no_grad;
      teacher_logits = teacher_->forward(inputs);
    }
    const double w = config_.distillation.weight;
    loss = (1.0 - w) * loss + w * distillation_loss(logits, teacher_logits, config_.distillation.temperature);
  }
  return loss;
}

double Trainer::evaluate() {
  const bool was_training = model_->is_training();
  model_->eval();
  at::NoGradGuard no_grad;
  const AutocastScope bf16_weights = bf16_weight_scope();
  double total = 0;  // each rank evaluates every world_size-th batch; the sum is reduced
  const int64_t rank = group_ ? group_->rank() : 0;
  for (size_t i = static_cast<size_t>(rank); i < val_batches_.size(); i += static_cast<size_t>(world_size())) {
    const auto& [inputs, targets] = val_batches_[i];
    const at::Tensor logits = model_->forward(inputs.to(device_));
    total += at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}), targets.to(device_).reshape({-1}))
                 .item<double>();
  }
  if (group_) {
    at::Tensor sum = at::full({1}, total, at::kDouble);
    group_->all_reduce_sum(sum, "the validation-loss all-reduce");
    total = sum.item<double>();
  }
  model_->train(was_training);
  return total / static_cast<double>(val_batches_.size());
}

std::string Trainer::sample_text() {
  if (config_.eval.sample_tokens == 0) return "";
  std::vector<int32_t> prompt = tokenizer_->encode(config_.eval.sample_prompt);
  if (prompt.empty()) prompt.push_back(static_cast<int32_t>(val_batches_.front().first[0][0].item<int64_t>()));
  // Its own generator, so sampling never moves the training data stream.
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(config_.seed + state_.step));
  const SamplingOptions options{config_.eval.sample_tokens, config_.eval.temperature, config_.eval.top_k,
                                tokenizer_->vocab_size()};
  const AutocastScope bf16_weights = bf16_weight_scope();
  return tokenizer_->decode(generate(model_, prompt, options, generator));
}

std::string Trainer::save_checkpoint(const std::string& name) {
  // A diverged model never becomes the latest or best checkpoint: the ones already written stay.
  for (const auto& p : model_->named_parameters())
    if (!at::isfinite(p.value()).all().item<bool>())
      throw std::runtime_error("step " + std::to_string(state_.step) + ": parameter " + p.key() +
                               " is not finite; not writing checkpoint " + name +
                               " (the run diverged; lower optimizer.lr; the checkpoints written so far are intact)");
  state_.rng_state = data_generator_.get_state();
  const std::string dir = config_.output_dir + "/checkpoints/" + name;
  if (sharded_) {  // every rank writes its optimizer shard into the checkpoint; rank 0 the rest
    if (is_main()) begin_checkpoint(dir);
    group_->barrier("the start of checkpoint " + name);
    torch::serialize::OutputArchive archive;
    save_range_states(archive, dynamic_cast<const Blockwise8bitOptimizer&>(*optimizer_), shard_ranges_);
    write_checkpoint_part(dir, optimizer_shard_file(group_->rank(), group_->world_size()), archive);
    group_->barrier("the optimizer shards of checkpoint " + name);
    std::vector<std::string> parts;
    for (int r = 0; r < group_->world_size(); ++r) parts.push_back(optimizer_shard_file(r, group_->world_size()));
    if (is_main()) write_checkpoint(dir, *model_, nullptr, state_, config_.to_yaml(), parts);
  } else if (is_main()) {  // weights, optimizer state and data RNG are the same on every rank
    write_checkpoint(dir, *model_, optimizer_.get(), state_, config_.to_yaml());
  }
  if (group_) group_->barrier("rank 0's write of checkpoint " + name);
  return dir;
}

StepMetrics Trainer::train_step() {
  const TrainingConfig& t = config_.training;
  StepMetrics m;
  m.lr = scheduled_lr(config_.schedule, config_.optimizer.lr, state_.step, t.steps);
  for (auto& group : optimizer_->param_groups()) group.options().set_lr(m.lr);
  m.lambda = scheduled_quant_lambda(config_.quantization.warmup_steps, state_.step);
  if (config_.quantization.warmup_steps > 0) set_warmup_lambda(*model_, m.lambda);

  model_->train();
  zero_gradients();
  if (step_in_backward_) step_in_backward_->begin();
  for (int64_t micro = 0; micro < t.grad_accum; ++micro) {
    auto [inputs, targets] = dataset_->sample_train(t.batch_size, t.seq_len, data_generator_,
                                                    group_ ? group_->rank() : 0, world_size());
    at::Tensor loss;
    {
      const AutocastScope autocast(t.autocast == Autocast::kBf16, device_.type());
      loss = loss_of(inputs.to(device_), targets.to(device_)) / static_cast<double>(t.grad_accum);
    }
    const bool last_micro_batch = micro + 1 == t.grad_accum;
    if (gradient_reducer_ && last_micro_batch) gradient_reducer_->arm();
    // Stepping in backward, a non-finite loss must stop before any parameter is updated.
    if (step_in_backward_ && !std::isfinite(loss.item<double>())) {
      m.loss += loss.item<double>();
      continue;
    }
    loss.backward();  // with step_in_backward, each parameter is updated here as its gradient completes
    if (gradient_reducer_ && last_micro_batch) gradient_reducer_->finish();  // gradients: the mean over ranks
    m.loss += loss.item<double>();
  }
  if (group_) {  // the global batch's loss; every rank then takes the same skip/stop decision
    at::Tensor loss = at::full({1}, m.loss, at::kDouble);
    group_->all_reduce_sum(loss, "the loss all-reduce");
    m.loss = loss.item<double>() / static_cast<double>(world_size());
  }
  const double max_norm = t.grad_clip > 0 ? t.grad_clip : INFINITY;
  if (step_in_backward_) {  // already stepped; a non-finite gradient left its parameter as it was
    m.grad_norm = std::isfinite(m.loss) ? step_in_backward_->gradient_norm() : NAN;
  } else if (sharded_) {
    m.grad_norm = clip_sharded_gradients(max_norm);
  } else if (t.grad_clip_scope == GradClipScope::kParameter) {
    m.grad_norm = clip_each_gradient(model_->parameters(), max_norm);
  } else {
    m.grad_norm = torch::nn::utils::clip_grad_norm_(model_->parameters(), max_norm);
  }
  if (std::isfinite(m.loss) && std::isfinite(m.grad_norm)) {
    nonfinite_in_a_row_ = 0;
    if (!step_in_backward_) optimizer_->step();
    if (sharded_) gradient_reducer_->all_gather_parameters();  // every rank's stepped pieces, everywhere
  } else {  // as AMP's GradScaler: no update, weights and optimizer state stay as they were
    ++nonfinite_in_a_row_;
    m.skipped = true;
    zero_gradients();
    if (t.on_nonfinite == OnNonFinite::kStop || nonfinite_in_a_row_ >= t.max_nonfinite_steps)
      throw std::runtime_error(
          "training diverged at step " + std::to_string(state_.step + 1) + " (loss " + std::to_string(m.loss) +
          ", gradient norm " + std::to_string(m.grad_norm) + (t.on_nonfinite == OnNonFinite::kSkip
              ? "; " + std::to_string(nonfinite_in_a_row_) + " non-finite steps in a row" : std::string()) +
          "); lower optimizer.lr or raise schedule.warmup_steps. Checkpoints written so far are intact.");
  }
  state_.tokens_seen += t.batch_size * t.seq_len * t.grad_accum * world_size();
  m.step = ++state_.step;
  return m;
}

TrainResult Trainer::run(const std::atomic<bool>* stop_requested) {
  const TrainingConfig& t = config_.training;
  const std::string checkpoints_dir = config_.output_dir + "/checkpoints";
  std::optional<TrainingProgress> progress;  // rank 0's: the bar, samples, metrics.jsonl, events
  if (is_main()) {
    write_file_atomic(config_.output_dir + "/config.yaml", config_.to_yaml());
    progress.emplace(config_.output_dir + "/metrics.jsonl", state_.step, t.steps, config_.eval.log_every, log_,
                     t.tensorboard ? config_.output_dir + "/tensorboard" : "");
  }
  TrainResult result;
  const auto run_start = std::chrono::steady_clock::now();
  const int64_t first_tokens = state_.tokens_seen;
  while (state_.step < t.steps) {
    StepMetrics m = train_step();
    result.losses.push_back(m.loss);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
    m.tokens_per_second = static_cast<double>(state_.tokens_seen - first_tokens) / seconds;
    if (progress) progress->on_step(m);

    const bool last = state_.step == t.steps;
    const bool stop = any_rank_requests_stop(stop_requested && stop_requested->load());
    state_.val_loss = std::numeric_limits<double>::quiet_NaN();
    if (last || (config_.eval.every > 0 && state_.step % config_.eval.every == 0)) {
      state_.val_loss = evaluate();
      if (!std::isfinite(state_.val_loss))  // never written as latest or best
        throw std::runtime_error("step " + std::to_string(state_.step) + ": val loss is " +
                                 std::to_string(state_.val_loss) + "; the run diverged (lower optimizer.lr); no "
                                 "checkpoint written for it, the ones written so far are intact");
      result.val_loss = state_.val_loss;
      if (progress) progress->on_eval({state_.step, state_.val_loss, sample_text()});
      if (state_.val_loss < state_.best_val_loss) {
        state_.best_val_loss = state_.val_loss;
        if (config_.checkpoint.keep_best) save_checkpoint("best");
      }
    }
    if (last || stop || (config_.checkpoint.every > 0 && state_.step % config_.checkpoint.every == 0)) {
      result.checkpoint = save_checkpoint(step_checkpoint_name(state_.step));
      if (is_main()) prune_checkpoints(checkpoints_dir, config_.checkpoint.keep_last);
    }
    if (stop && !last) {
      result.interrupted = true;
      if (progress)
        progress->message("stopped at step " + std::to_string(state_.step) + "; checkpoint " + result.checkpoint +
                          " (continue with --resume " + config_.output_dir + ")");
      break;
    }
  }
  result.step = state_.step;
  return result;
}

}  // namespace ternary
