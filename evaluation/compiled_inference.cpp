#include "evaluation/compiled_inference.h"

#include <algorithm>

#include "evaluation/plan_context.h"
#include "evaluation/time_model.h"
#include "sim/check.h"
#include "sim/microbatch_recipe.h"
#include "strategies/communication.h"
#include "strategies/data_parallel.h"
#include "strategies/model_states.h"
#include "strategies/pipeline.h"
#include "strategies/quantization.h"
#include "strategies/tensor_parallel.h"

namespace memsim::evaluation {

using sim::Category;
using sim::Dim;
using sim::OpKind;

namespace {

/// How a pass sizes a tensor: by the tokens it processes, by the positions it samples (the
/// logits), or not at all (the labels: only the loss reads them, and serving runs none).
/// Grouped apart, no tensor class mixes them, though the labels share the token ids' shape
/// and dtype, and the fp32 logits the loss's log-probabilities'.
enum PassPricing : int { kByTokens, kByLogits, kUnfed };

std::vector<int> pass_pricing(const sim::LayerGraph& graph) {
  std::vector<int> pricing(graph.tensor_count(), kByTokens);
  for (sim::TensorId t = 0; t < graph.tensor_count(); ++t) {
    const auto readers = graph.consumers(t);
    const OpKind maker = graph.op(graph.tensor(t).producer).kind;
    const bool loss_only =
        !readers.empty() && std::all_of(readers.begin(), readers.end(), [&](sim::OpId r) {
          return sim::scores_the_loss(graph.op(r).kind);
        });
    if (maker == OpKind::kInput && loss_only) pricing[t] = kUnfed;
    if (maker == OpKind::kLmHead || maker == OpKind::kUpcastLogits) pricing[t] = kByLogits;
  }
  return pricing;
}

}  // namespace

struct CompiledInference::Stage {
  sim::RankProgram program;  ///< the stage's ops without gradients, and its resident state
  std::vector<sim::OpId> ops;
  std::vector<int64_t> twin_ops;  ///< per twin slot: the ops a pass runs priced like it
  sim::RankResult summary;        ///< the walk of the prefill and the last decode step
  int64_t layers = 0;
  OverheadParts overheads;
};

CompiledInference::~CompiledInference() = default;

CompiledInference::CompiledInference(ServingPlan plan)
    : plan_(std::move(plan)),
      graph_([&] {
        sim::ModelSpec model = plan_.model;
        model.dropout = 0.0;  // eval mode: dropout is the identity
        return std::make_unique<sim::LayerGraph>(model);
      }()),
      index_(std::make_unique<sim::QuantityIndex>(*graph_, pass_pricing(*graph_))) {
  const sim::LayerGraph& graph = *graph_;
  const PipelineParallelism& pp = plan_.parallel.pp;
  MEMSIM_CHECK(pp.virtual_stages == 1 && !plan_.parallel.tp.sequence_parallel);
  for (sim::OpId op : graph.twins())
    op_weights_.push_back(op_weight_bytes(plan_, graph.op(op), true));

  const std::vector<int64_t> layers = chunk_layers(plan_.model.layers, pp);
  for (int64_t s = 0; s < pp.stages; ++s) {
    Stage& stage = stages_.emplace_back();
    const std::vector<sim::ChunkSpan> spans = stage_chunks(graph, layers, s, pp);
    sim::RankProgram& program = stage.program;
    program.graph = &graph;
    program.index = index_.get();
    program.chunks = {{spans.front().first, spans.back().last}};
    program.no_grad = true;
    stage.ops = ops_in(graph, spans);
    stage.layers = layers[s];
    stage.twin_ops.assign(graph.twins().size(), 0);
    for (const sim::RecipeOp& op : sim::compile_recipe(program, 0).forward)
      ++stage.twin_ops[graph.twin_slot(op.op)];
    stage.overheads.cuda_context = plan_.overheads.cuda_context;
    stage.overheads.process_groups = inference_process_groups(plan_.parallel);
    stage.overheads.communication = plan_.overheads.nccl_per_group * stage.overheads.process_groups;
    program.resident[Category::kWeights] = inference_weight_bytes(plan_, graph, stage.ops);
    program.resident[Category::kOverhead] =
        stage.overheads.cuda_context + stage.overheads.communication;
    // The allocator's reserve grows with the transient working set (the KV cache is one
    // preallocated pool), so it needs one walk without it. Held from the start, it raises
    // every moment alike: the walk's peak moment stays, its bytes grow by the reserve.
    stage.summary = walk(s, kLastStepOnly);
    const sim::Bytes reserve =
        allocator_reserve(plan_, stage.summary.max_by_category[Category::kTemporary]);
    stage.overheads.allocator_reserve = reserve;
    program.resident[Category::kOverhead] += reserve;
    stage.summary.peak += reserve;
    stage.summary.at_peak[Category::kOverhead] += reserve;
    stage.summary.max_by_category[Category::kOverhead] += reserve;
  }
}

CompiledInference::PassDims CompiledInference::pass_dims(const PassShape& shape) const {
  const TensorParallelism& tp = plan_.parallel.tp;
  sim::DimSizes full = sim::model_dims(plan_.model, shape.tokens, plan_.inference.batch);
  full[Dim::kKeySeq] = shape.attended;
  sim::DimSizes logits_full = full;
  logits_full[Dim::kSeq] = shape.logits;
  logits_full[Dim::kHeadSeq] = shape.logits;
  PassDims dims{{}, rank_dims(logits_full, tp), {}};
  for (int kind = 0; kind < graph_->kind_count(); ++kind)
    dims.body.push_back(rank_dims(graph_->kind_dims(full, kind), tp));
  dims.precision.activations = plan_.inference.activation_dtype();
  return dims;
}

std::vector<sim::Bytes> CompiledInference::pass_sizes(const PassDims& dims) const {
  // Only tensors cost anything: a serving rank gathers no weights and, without sequence
  // parallelism, needs no communication buffers.
  std::vector<sim::Bytes> sizes(index_->count());
  const sim::TensorClasses& classes = index_->classes();
  for (int k = 0; k < classes.count(); ++k) {
    if (classes.group(k) == kUnfed) continue;
    const sim::TensorSpec& spec = classes.spec(k);
    const sim::DimSizes& at =
        classes.group(k) == kByLogits ? dims.logits : dims.body[classes.kind(k)];
    sizes[k] = sim::bytes_of(rank_activation_elements(spec.shape, at, plan_.parallel.tp),
                             dims.precision.bytes(spec.dtype));
  }
  return sizes;
}

std::vector<double> CompiledInference::twin_seconds(const PassShape& shape,
                                                    const std::vector<sim::Bytes>& sizes) const {
  const sim::LayerGraph& graph = *graph_;
  const PassDims dims = pass_dims(shape);
  const Cluster& cluster = plan_.cluster;
  const TensorParallelism& tp = plan_.parallel.tp;
  const double tp_bandwidth = group_bandwidth(cluster, 1, tp.degree);
  const sim::Bytes kv_layer =
      sim::Bytes(kv_bytes_per_token(plan_, 1).value() * shape.cached_after * plan_.inference.batch);
  const auto bytes = [&](sim::TensorId t) { return sizes[index_->tensor(t)]; };
  std::vector<double> seconds;
  for (sim::OpId id : graph.twins()) {
    const sim::OpNode& op = graph.op(id);
    const bool head = op.kind == OpKind::kLmHead;
    const sim::DimSizes& at = head ? dims.logits : dims.body[graph.op_kind(id)];
    const double compute =
        compute_seconds(forward_flops(op, at), *cluster.gpu, cluster.compute_efficiency);
    // Memory-bound steps (decode) take the time to read their weights, the cache they
    // attend to and their tensors from HBM.
    sim::Bytes read = op_weights_[graph.twin_slot(id)];
    if (sim::op_info(op.kind).flops == sim::FlopsRule::kAttention) read += kv_layer;
    for (sim::TensorId t : op.inputs)
      read += bytes(t);
    for (sim::TensorId t : op.outputs)
      read += bytes(t);
    const double memory =
        static_cast<double>(read.value()) / cluster.gpu->memory_bandwidth_bytes_per_s;
    seconds.push_back(std::max(compute, memory) +
                      tensor_parallel_seconds(graph, id, bytes, tp, tp_bandwidth).forward_s);
  }
  return seconds;
}

sim::ServingPass CompiledInference::price(const PassShape& shape) const {
  const sim::LayerGraph& graph = *graph_;
  sim::ServingPass pass;
  pass.index = shape.index;
  pass.sizes = pass_sizes(pass_dims(shape));
  // Every layer's ops cost what their twin in the first layer of its kind costs.
  const std::vector<double> twin_s = twin_seconds(shape, pass.sizes);
  pass.op_times.reserve(graph.op_count());
  for (sim::OpId op = 0; op < graph.op_count(); ++op)
    pass.op_times.push_back({twin_s[graph.twin_slot(op)], 0.0});
  return pass;
}

sim::RankResult CompiledInference::walk(int64_t s, int64_t decode_stride,
                                        sim::EventSink* sink) const {
  const Stage& stage = stages_[s];
  const sim::Bytes per_token =
      sim::Bytes(kv_bytes_per_token(plan_, stage.layers).value() * plan_.inference.batch);
  const std::vector<PassShape> shapes = inference_passes(plan_.inference, decode_stride);
  const auto pass = [&](size_t i) {
    sim::ServingPass priced = price(shapes[i]);
    priced.kv_growth = per_token * (shapes[i].cached_after - shapes[i].cached_before);
    return priced;
  };
  return sim::simulate_serving(stage.program, shapes.size(), pass, sink);
}

double CompiledInference::pass_seconds(const PassShape& shape) const {
  const std::vector<double> twin_s = twin_seconds(shape, pass_sizes(pass_dims(shape)));
  double seconds = 0.0;
  for (const Stage& stage : stages_) {
    for (size_t slot = 0; slot < twin_s.size(); ++slot)
      seconds += twin_s[slot] * static_cast<double>(stage.twin_ops[slot]);
  }
  return seconds;
}

double CompiledInference::prefill_seconds() const {
  double seconds = 0.0;
  for (const PassShape& shape : inference_passes(plan_.inference, kLastStepOnly)) {
    if (shape.index < prefill_passes(plan_.inference)) seconds += pass_seconds(shape);
  }
  return seconds;
}

CompiledInference::DecodeSeconds CompiledInference::decode_seconds() const {
  constexpr int64_t kTimedSteps = 1024;
  const Inference& inference = plan_.inference;
  const int64_t steps = inference.generate_len;
  DecodeSeconds seconds;
  if (steps == 0) return seconds;
  const auto step_s = [&](int64_t step) {
    const int64_t before = cached_tokens(inference, inference.prompt_len + step - 1);
    return pass_seconds(decode_pass(inference, step, before));
  };
  const int64_t stride = (steps + kTimedSteps - 1) / kTimedSteps;
  // Steps 1..first count as the first timed one; between timed steps a and b, the steps
  // a+1..b lie on the line through their times (exact when b = a + 1).
  int64_t a = (steps - 1) % stride + 1;
  double t_a = step_s(a);
  seconds.all = static_cast<double>(a) * t_a;
  for (int64_t b = a + stride; b <= steps; a = b, b += stride) {
    const double t_b = step_s(b);
    const auto n = static_cast<double>(b - a);
    seconds.all += n * t_a + (t_b - t_a) * (n + 1.0) / 2.0;
    t_a = t_b;
  }
  seconds.last = t_a;
  return seconds;
}

sim::Bytes CompiledInference::peak() const {
  sim::Bytes peak;
  for (const Stage& stage : stages_)
    peak = std::max(peak, stage.summary.peak);
  return peak;
}

const sim::RankResult& CompiledInference::summary(int64_t stage) const {
  return stages_[stage].summary;
}

const OverheadParts& CompiledInference::overheads(int64_t stage) const {
  return stages_[stage].overheads;
}

int64_t CompiledInference::rank_parameters(int64_t stage, int64_t tp_rank) const {
  const std::vector<sim::OpId>& ops = stages_[stage].ops;
  const auto params = rank_params(*graph_, ops, sim::model_dims(plan_.model, 1, 1),
                                  plan_.parallel.tp, tp_rank, has_embedding(*graph_, ops));
  return owned_parameters(params, DataParallelism{}, 0);
}

}  // namespace memsim::evaluation
