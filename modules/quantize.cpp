#include "modules/quantize.h"

#include <torch/nn/modules/container/moduledict.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include <sstream>

#include "modules/quant_conv2d.h"
#include "modules/quant_embedding.h"
#include "modules/quant_linear.h"

namespace ternary {
namespace {

struct PlannedSwap {
  torch::nn::Module* parent;
  std::string child_name;
  std::shared_ptr<torch::nn::Module> old_module;
  std::shared_ptr<torch::nn::Module> new_module;
  torch::nn::AnyModule new_any;  // for Sequential slots
};

// Builds the quantized replacement for a float module, or nullptr when it is not a kind we swap.
std::pair<std::shared_ptr<torch::nn::Module>, torch::nn::AnyModule> make_replacement(
    const std::shared_ptr<torch::nn::Module>& module, const QuantSlots& slots, QuantizeReport::Replacement& entry) {
  if (auto* linear = dynamic_cast<torch::nn::LinearImpl*>(module.get())) {
    const auto& o = linear->options;
    QuantLinear q(QuantLinearOptions(o.in_features(), o.out_features()).bias(o.bias()).slots(slots));
    q->adopt_weights(linear->weight, linear->bias);
    entry.from = "torch::nn::Linear";
    entry.to = "ternary::QuantLinear";
    return {q.ptr(), torch::nn::AnyModule(q)};
  }
  if (auto* embedding = dynamic_cast<torch::nn::EmbeddingImpl*>(module.get())) {
    const auto& o = embedding->options;
    TORCH_CHECK(!o.padding_idx() && !o.max_norm() && !o.sparse(),
                "quantize_: Embedding with padding_idx/max_norm/sparse is not supported by QuantEmbedding");
    QuantEmbedding q(QuantEmbeddingOptions(o.num_embeddings(), o.embedding_dim())
                         .weight_quant(slots.weight)
                         .output_quant(slots.output));
    q->adopt_weights(embedding->weight);
    entry.from = "torch::nn::Embedding";
    entry.to = "ternary::QuantEmbedding";
    entry.input = "none (indices)";
    return {q.ptr(), torch::nn::AnyModule(q)};
  }
  if (auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(module.get())) {
    const auto& o = conv->options;
    auto conv_options = torch::nn::Conv2dOptions(o.in_channels(), o.out_channels(), o.kernel_size())
                            .stride(o.stride())
                            .dilation(o.dilation())
                            .groups(o.groups())
                            .bias(o.bias())
                            .padding_mode(o.padding_mode());
    conv_options.padding() = o.padding();
    QuantConv2d q(QuantConv2dOptions(conv_options).slots(slots));
    q->adopt_weights(conv->weight, conv->bias);
    entry.from = "torch::nn::Conv2d";
    entry.to = "ternary::QuantConv2d";
    return {q.ptr(), torch::nn::AnyModule(q)};
  }
  return {nullptr, {}};
}

bool is_quantizable(const torch::nn::Module& m) {
  return dynamic_cast<const torch::nn::LinearImpl*>(&m) || dynamic_cast<const torch::nn::EmbeddingImpl*>(&m) ||
         dynamic_cast<const torch::nn::Conv2dImpl*>(&m);
}

// Owners of a child that forward() can reach: the registry, plus the container's own storage.
long expected_owners(const torch::nn::Module& parent) {
  const bool container = dynamic_cast<const torch::nn::SequentialImpl*>(&parent) ||
                         dynamic_cast<const torch::nn::ModuleListImpl*>(&parent) ||
                         dynamic_cast<const torch::nn::ModuleDictImpl*>(&parent);
  return container ? 2 : 1;
}

void plan(torch::nn::Module& parent, const std::string& prefix, const Recipe& recipe, QuantizeReport& report,
          std::vector<PlannedSwap>& swaps) {
  std::vector<std::string> names;
  for (const auto& item : parent.named_children()) names.push_back(item.key());
  for (const auto& name : names) {
    const std::string full = prefix.empty() ? name : prefix + "." + name;
    std::weak_ptr<torch::nn::Module> weak = parent.named_children()[name];
    auto child = weak.lock();
    if (!is_quantizable(*child)) {
      plan(*child, full, recipe, report, swaps);
      continue;
    }
    const RecipeRule* rule = recipe.match(full);
    if (!rule) {
      report.unmatched.push_back(full);
      continue;
    }
    if (rule->keep_full_precision) {
      report.kept_full_precision.push_back(full);
      continue;
    }
    child.reset();
    const long owners = weak.use_count();
    TORCH_CHECK(owners <= expected_owners(parent), "quantize_: '", full, "' (", weak.lock()->name(),
                ") is also held by a member variable of its parent, so swapping it in the module tree would leave "
                "forward() calling the float layer. Declare that member as a ternary::Quant* module configured from "
                "recipe.match(\"", full, "\")->slots, or keep such layers in a Sequential/ModuleList/ModuleDict.");
    QuantizeReport::Replacement entry;
    entry.name = full;
    entry.rule = rule->origin;
    entry.weight = describe_slot(rule->slots.weight);
    entry.input = describe_slot(rule->slots.input);  // make_replacement overrides it for embeddings
    entry.output = describe_slot(rule->slots.output);
    auto [replacement, any] = make_replacement(weak.lock(), rule->slots, entry);
    swaps.push_back({&parent, name, weak.lock(), replacement, std::move(any)});
    report.replaced.push_back(entry);
  }
}

void apply(PlannedSwap& swap) {
  if (auto* sequential = dynamic_cast<torch::nn::SequentialImpl*>(swap.parent)) {
    for (auto& slot : *sequential)
      if (slot.ptr() == swap.old_module) slot = std::move(swap.new_any);
  } else if (auto* list = dynamic_cast<torch::nn::ModuleListImpl*>(swap.parent)) {
    for (auto& slot : *list)
      if (slot == swap.old_module) slot = swap.new_module;
  } else if (auto* dict = dynamic_cast<torch::nn::ModuleDictImpl*>(swap.parent)) {
    dict->update({{swap.child_name, swap.new_module}});
    return;  // update() also replaces the registry entry
  }
  swap.parent->replace_module(swap.child_name, swap.new_module);
}

}  // namespace

std::string QuantizeReport::to_string() const {
  std::ostringstream out;
  out << "quantize_: replaced " << replaced.size() << " module(s), kept " << kept_full_precision.size()
      << " in full precision, " << unmatched.size() << " matched no rule\n";
  for (const auto& r : replaced)
    out << "  " << r.name << ": " << r.from << " -> " << r.to << " weight=" << r.weight << " input=" << r.input
        << " output=" << r.output << " [" << r.rule << "]\n";
  for (const auto& name : kept_full_precision) out << "  " << name << ": kept full precision\n";
  for (const auto& name : unmatched) out << "  " << name << ": no rule matched, unchanged\n";
  return out.str();
}

QuantizeReport quantize_(torch::nn::Module& model, const Recipe& recipe) {
  TORCH_CHECK(!is_quantizable(model), "quantize_: the root module is itself a layer; pass the model that contains it "
                                      "or construct a ternary::Quant* module directly");
  QuantizeReport report;
  std::vector<PlannedSwap> swaps;
  plan(model, "", recipe, report, swaps);
  for (auto& swap : swaps) apply(swap);
  return report;
}

void set_warmup_lambda(torch::nn::Module& model, double lambda) {
  for (const auto& module : model.modules(/*include_self=*/true))
    if (auto* quantizer = dynamic_cast<QuantizerImpl*>(module.get())) quantizer->set_warmup_lambda(lambda);
}

void set_output_buffer_reuse(torch::nn::Module& model, bool on) {
  for (const auto& module : model.modules(/*include_self=*/true))
    if (auto* quantizer = dynamic_cast<QuantizerImpl*>(module.get())) quantizer->set_output_buffer_reuse(on);
}

}  // namespace ternary
