#include "strategies/fast_evaluator.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <optional>
#include <span>
#include <tuple>
#include <variant>

#include "sim/check.h"
#include "strategies/chunk_profile.h"
#include "strategies/compiled_plan.h"
#include "strategies/plan_context.h"
#include "strategies/schedules.h"
#include "strategies/stage_facts.h"

namespace memsim::strategies {

namespace {

/// A model's graph and the index of its quantities, built once.
struct ModelEntry {
  sim::ModelSpec spec;
  std::unique_ptr<sim::LayerGraph> graph;
  std::unique_ptr<TensorClasses> classes;
  std::unique_ptr<QuantityIndex> index;
  std::vector<int> tensor_class;
};

/// What makes two chunks' recipes alike: their place in the model, checkpointing and
/// ZeRO-3 prefetching.
struct ChunkKey {
  const ModelEntry* model;
  int64_t layers;
  bool embedding;
  bool head;
  size_t policy;
  int64_t every;
  int prefetch;
  auto tie() const { return std::tie(model, layers, embedding, head, policy, every, prefetch); }
  bool operator<(const ChunkKey& other) const { return tie() < other.tie(); }
};

/// The chunk shapes of every stage, with stages of equal shapes sharing a kind: they hold
/// and spend the same (only the first and last stage usually differ).
struct StageLayout {
  std::vector<std::vector<ChunkShape>> shapes;  ///< per stage
  std::vector<int32_t> kind;                    ///< per stage
  std::vector<int64_t> representative;          ///< per kind: its first stage
};

bool same_shape(const std::vector<ChunkShape>& a, const std::vector<ChunkShape>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].layers != b[i].layers || a[i].embedding != b[i].embedding || a[i].head != b[i].head) {
      return false;
    }
  }
  return true;
}

/// A moment of a stage's schedule where it may be fullest: before a step, with some
/// microbatches of each chunk in flight and some chunks' gradients made.
struct Moment {
  sim::StepKind kind;
  int32_t chunk;
  bool first_backward;
  std::vector<int64_t> in_flight;       ///< per local chunk
  std::vector<int64_t> gradients_made;  ///< per local chunk, 0 or 1
};

bool dominated(const Moment& a, const Moment& by) {
  if (a.kind != by.kind || a.chunk != by.chunk || a.first_backward != by.first_backward)
    return false;
  for (size_t c = 0; c < a.in_flight.size(); ++c) {
    if (a.in_flight[c] > by.in_flight[c] || a.gradients_made[c] > by.gradients_made[c])
      return false;
  }
  return true;
}

/// Adds `m` to `moments` unless one of them dominates it; drops those it dominates.
void add_undominated(std::vector<Moment>& moments, const Moment& m) {
  if (std::any_of(moments.begin(), moments.end(),
                  [&](const Moment& e) { return dominated(m, e); })) {
    return;
  }
  std::erase_if(moments, [&](const Moment& e) { return dominated(e, m); });
  moments.push_back(m);
}

std::vector<Moment> moments_of(const std::vector<sim::ScheduledStep>& steps, int64_t chunks) {
  std::vector<Moment> moments;
  std::vector<int64_t> in_flight(chunks, 0);
  std::vector<int64_t> made(chunks, 0);
  for (const sim::ScheduledStep& step : steps) {
    const bool forward = step.kind == sim::StepKind::kForward;
    add_undominated(moments,
                    {step.kind, step.chunk, !forward && made[step.chunk] == 0, in_flight, made});
    if (forward) {
      ++in_flight[step.chunk];
    } else {
      --in_flight[step.chunk];
      made[step.chunk] = 1;
    }
  }
  return moments;
}

/// Which peak of a chunk a moment's step reaches.
enum PassKind : int32_t { kForwardPass, kBackwardPass, kFirstBackwardPass };

/// A stage's undominated moments, flattened: per moment the chunk, the pass, then the
/// in-flight count and the gradients-made flag of each local chunk.
struct StageMoments {
  std::vector<int32_t> data;
  int64_t count = 0;
};

StageMoments flatten(const std::vector<Moment>& moments) {
  StageMoments flat;
  flat.count = static_cast<int64_t>(moments.size());
  for (const Moment& m : moments) {
    flat.data.push_back(m.chunk);
    flat.data.push_back(m.kind == sim::StepKind::kForward
                            ? kForwardPass
                            : (m.first_backward ? kFirstBackwardPass : kBackwardPass));
    for (int64_t n : m.in_flight)
      flat.data.push_back(static_cast<int32_t>(n));
    for (int64_t n : m.gradients_made)
      flat.data.push_back(static_cast<int32_t>(n));
  }
  return flat;
}

/// What a PlanContext depends on.
struct ContextKey {
  const ModelEntry* model;
  int64_t seq_len, micro_batch, tp, vocab_multiple, activation_bytes, gpus_per_node;
  bool sequence_parallel;
  double peak, intra, inter, efficiency;
  bool operator==(const ContextKey&) const = default;
};

ContextKey context_key(const ModelEntry& model, const TrainingPlan& plan) {
  const auto& gpu = plan.cluster.gpu;
  return {&model,
          plan.training.seq_len,
          plan.training.micro_batch,
          plan.parallel.tp.degree,
          plan.parallel.tp.vocab_multiple,
          plan.precision.activation_bytes(),
          plan.cluster.gpus_per_node,
          plan.parallel.tp.sequence_parallel,
          gpu.peak_16bit_flop_per_s,
          gpu.intra_node_bytes_per_s,
          gpu.inter_node_bytes_per_s,
          plan.cluster.compute_efficiency};
}

/// What a stage's facts depend on besides its shape and parameters: the same for every
/// stage of a plan, so made (and hashed) once per evaluation.
struct FactsPlanKey {
  int64_t tp, pp, gpus_per_node;
  DataParallelism dp;
  PrecisionRecipe recipe;
  std::optional<Dtype> gradients;
  const OptimizerInfo* optimizer;
  std::array<double, 2> optimizer_values;  ///< its parameters, defaults resolved
  GradientBuffers gradient_buffers;
  sim::Bytes cuda_context, nccl_per_group;
  double memory_bandwidth, host_link, intra, inter;
  bool operator==(const FactsPlanKey& other) const {
    auto tie = [](const FactsPlanKey& k) {
      return std::tie(k.tp, k.pp, k.gpus_per_node, k.dp.degree, k.dp.zero, k.dp.offload,
                      k.dp.reduce_bucket_elements, k.dp.prefetch_layers, k.dp.persistence_threshold,
                      k.dp.overlap_communication, k.recipe, k.gradients, k.optimizer,
                      k.optimizer_values, k.gradient_buffers, k.cuda_context, k.nccl_per_group,
                      k.memory_bandwidth, k.host_link, k.intra, k.inter);
    };
    return tie(*this) == tie(other);
  }
};

FactsPlanKey facts_plan_key(const TrainingPlan& plan) {
  const auto& gpu = plan.cluster.gpu;
  const OptimizerInfo* optimizer = find_optimizer(plan.training.optimizer.name);
  std::array<double, 2> values{};
  for (size_t i = 0; i < optimizer->parameters.size() && i < values.size(); ++i) {
    values[i] = optimizer_parameter(plan.training.optimizer, optimizer->parameters[i].name);
  }
  return {plan.parallel.tp.degree,
          plan.parallel.pp.stages,
          plan.cluster.gpus_per_node,
          plan.parallel.dp,
          plan.precision.recipe,
          plan.precision.gradients,
          optimizer,
          values,
          plan.training.gradient_buffers,
          plan.overheads.cuda_context,
          plan.overheads.nccl_per_group,
          gpu.memory_bandwidth_bytes_per_s,
          gpu.host_link_bytes_per_s,
          gpu.intra_node_bytes_per_s,
          gpu.inter_node_bytes_per_s};
}

/// A stage's facts' key: the plan's part, the stage's parameter groups and shape.
struct FactsKey {
  FactsPlanKey plan;
  const void* groups;
  int64_t layers;
  bool embedding, head;
  bool operator==(const FactsKey& other) const {
    return groups == other.groups && layers == other.layers && embedding == other.embedding &&
           head == other.head && plan == other.plan;
  }
};

/// Mixes `value` into the running hash `h` (FNV-1a over its bytes, 8 at a time).
template <typename T>
void mix(uint64_t& h, const T& value) {
  uint64_t bits = 0;
  static_assert(sizeof(T) <= sizeof(bits));
  std::memcpy(&bits, &value, sizeof(T));
  h = (h ^ bits) * 0x100000001B3ULL;
}

/// A small cache of recent values: sweeps vary a few keys at a time, so the last few
/// results of a costly step are usually the ones needed again. Keys come with a hash,
/// compared first. Each value gets an id never reused, so tables derived from it can be
/// keyed by the id; values stay put while cached.
template <typename Key, typename Value, size_t kKept = 16>
class RecentCache {
 public:
  struct Found {
    const Value* value;
    uint64_t id;
  };

  template <typename Make>
  Found get(const Key& key, uint64_t hash, Make make) {
    ++clock_;
    // Hashes and use times apart from the (large) keys, so a scan touches little memory.
    for (size_t i = 0; i < hashes_.size(); ++i) {
      if (hashes_[i] == hash && entries_[i].key == key) {
        used_[i] = clock_;
        return {entries_[i].value.get(), entries_[i].id};
      }
    }
    size_t slot = hashes_.size();
    if (slot < kKept) {
      hashes_.push_back(0);
      used_.push_back(0);
      entries_.emplace_back();
    } else {
      slot = static_cast<size_t>(std::min_element(used_.begin(), used_.end()) - used_.begin());
    }
    hashes_[slot] = hash;
    used_[slot] = clock_;
    entries_[slot] = {key, ++last_id_, std::make_unique<Value>(make())};
    return {entries_[slot].value.get(), entries_[slot].id};
  }

 private:
  struct Entry {
    Key key;
    uint64_t id = 0;
    std::unique_ptr<Value> value;
  };
  std::vector<uint64_t> hashes_;
  std::vector<uint64_t> used_;
  std::vector<Entry> entries_;
  uint64_t last_id_ = 0;
  uint64_t clock_ = 0;
};

/// Parameters of the embedding's, a layer's and the head's ops, per TP layout.
struct ParamKey {
  const ModelEntry* model;
  int64_t tp;
  int64_t vocab_multiple;
  bool embedding_here;
  auto tie() const { return std::tie(model, tp, vocab_multiple, embedding_here); }
  bool operator<(const ParamKey& other) const { return tie() < other.tie(); }
};

/// The last few values made for small keys, for memo tables attached to what they derive
/// from: a miss recycles the least recently used slot, whose stale value (and its vectors'
/// storage) the caller overwrites.
template <typename Key, typename Value, size_t kKept>
class LastFew {
 public:
  /// The slot for `key`, and whether it was just taken (its value is to be filled in).
  std::pair<Value*, bool> get(const Key& key) {
    ++clock_;
    size_t oldest = 0;
    for (size_t i = 0; i < used_.size(); ++i) {
      if (used_[i] != 0 && keys_[i] == key) {
        used_[i] = clock_;
        return {&values_[i], false};
      }
      if (used_[i] < used_[oldest]) oldest = i;
    }
    used_[oldest] = clock_;
    keys_[oldest] = key;
    return {&values_[oldest], true};
  }

 private:
  std::array<Key, kKept> keys_{};
  std::array<Value, kKept> values_{};
  std::array<uint64_t, kKept> used_{};  ///< 0: empty
  uint64_t clock_ = 0;
};

/// A chunk's passes evaluated on one part of the quantities: each candidate prefix's sum
/// and each pass's net. The context part also carries the chunk's compute times.
struct PartValues {
  std::vector<int64_t> forward, backward, first_backward;
  int64_t forward_net = 0, backward_net = 0, first_backward_net = 0;
  ChunkTimes times;
};

/// A chunk profile with its parts for the last few contexts and stage states (by id).
struct ChunkEntry {
  ChunkProfile profile;
  LastFew<uint64_t, PartValues, 8> context_parts;
  LastFew<uint64_t, PartValues, 8> stage_parts;
};

/// A schedule timed with some stage times: the same times give the same answer.
struct TimingKey {
  const StageLayout* layout = nullptr;
  double transfer_s = 0.0;
  std::vector<double> times;  ///< per kind and chunk: forward, backward
  bool operator==(const TimingKey&) const = default;
};
struct TimingValue {
  std::vector<double> end_s;  ///< per stage
  double bubble_fraction = 0.0;
};

/// A schedule's moments and timing order, with its last few timings.
struct ScheduleEntry {
  std::vector<std::vector<Moment>> moments;  ///< per stage, undominated
  std::vector<StageMoments> flat;            ///< the same, flattened
  ScheduleOrder order;
  LastFew<TimingKey, TimingValue, 16> timings;
  /// Per layout, per kind of stage: the moments of all its stages, undominated.
  LastFew<const StageLayout*, std::vector<StageMoments>, 4> kind_moments;
};

/// Which chunk profiles each kind of stage of a layout uses, for some checkpointing and
/// prefetching.
struct ProfilesKey {
  const StageLayout* layout = nullptr;
  const ModelEntry* model = nullptr;
  size_t policy = 0;
  int64_t every = 0;
  int prefetch = 0;
  bool operator==(const ProfilesKey&) const = default;
};
using KindProfiles = std::vector<std::vector<ChunkEntry*>>;  ///< per kind, per chunk

/// One chunk re-sized for a plan.
struct ChunkNumbers {
  int64_t saved = 0;
  int64_t gradients = 0;         ///< parameter gradients its first backward leaves behind
  int64_t peaks[3] = {0, 0, 0};  ///< by PassKind
};

/// One kind of stage's figures for a plan.
struct KindNumbers {
  const StageFacts* facts = nullptr;
  std::vector<ChunkNumbers> chunks;
  std::vector<ChunkTimes> times;  ///< with ZeRO-3 gather waits
  double after_steps_s = 0.0;     ///< synchronisation and optimizer step
  sim::Bytes resident;
};

/// The fullest a chunk pass gets: the largest candidate, never below the start.
int64_t fullest(const std::vector<int64_t>& context, const std::vector<int64_t>& stage) {
  int64_t best = 0;
  for (size_t i = 0; i < context.size(); ++i)
    best = std::max(best, context[i] + stage[i]);
  return best;
}

void evaluate_pass(const PassProfile& pass, bool context_terms,
                   const std::vector<int64_t>& quantities, std::vector<int64_t>& out,
                   int64_t& net) {
  (context_terms ? pass.context_peaks : pass.stage_peaks).evaluate(quantities, out);
  net = (context_terms ? pass.context_net : pass.stage_net).evaluate(quantities);
}

}  // namespace

struct FastEvaluator::Caches {
  std::vector<std::unique_ptr<ModelEntry>> models;
  std::map<ChunkKey, ChunkEntry> chunks;
  LastFew<ProfilesKey, KindProfiles, 8> kind_profiles;
  std::map<std::tuple<const ScheduleInfo*, int64_t, int64_t, int64_t>, ScheduleEntry> schedules;
  std::map<ParamKey, ParamGroups> params;
  std::map<std::tuple<int64_t, int64_t, int64_t, std::vector<int64_t>, bool, bool>, StageLayout>
      layouts;
  RecentCache<ContextKey, PlanContext> contexts;
  RecentCache<FactsKey, StageFacts, 32> facts;
  // Scratch reused between evaluations.
  std::vector<int64_t> quantities;
  std::vector<KindNumbers> kinds;
  std::vector<std::vector<ChunkTimes>> stage_times;
  std::vector<double> timing_scratch;
  std::vector<sim::ChunkSpan> spans;
  TimingKey timing_key;

  const ModelEntry& model(const sim::ModelSpec& spec) {
    for (const auto& entry : models) {
      if (entry->spec == spec) return *entry;
    }
    auto entry = std::make_unique<ModelEntry>();
    entry->spec = spec;
    entry->graph = std::make_unique<sim::LayerGraph>(spec);
    entry->classes = std::make_unique<TensorClasses>(*entry->graph);
    entry->index = std::make_unique<QuantityIndex>(*entry->graph, entry->classes->count());
    for (sim::TensorId t = 0; t < entry->graph->tensor_count(); ++t) {
      entry->tensor_class.push_back(entry->classes->of(t));
    }
    models.push_back(std::move(entry));
    return *models.back();
  }

  ScheduleEntry& schedule(const PipelineParallelism& pp, int64_t microbatches) {
    const ScheduleInfo* info = find_schedule(pp.schedule);
    MEMSIM_CHECK(info != nullptr);
    ScheduleEntry& entry = schedules[{info, pp.stages, pp.virtual_stages, microbatches}];
    if (entry.moments.empty()) {
      std::vector<std::vector<sim::ScheduledStep>> steps;
      for (int64_t s = 0; s < pp.stages; ++s) {
        steps.push_back(info->steps(s, pp.stages, pp.virtual_stages, microbatches));
        entry.moments.push_back(moments_of(steps.back(), pp.virtual_stages));
        entry.flat.push_back(flatten(entry.moments.back()));
      }
      entry.order = order_schedule(steps, pp.virtual_stages);
    }
    return entry;
  }

  RecentCache<ContextKey, PlanContext>::Found context(const TrainingPlan& plan,
                                                      const ModelEntry& model) {
    const ContextKey key = context_key(model, plan);
    uint64_t hash = 0xCBF29CE484222325ULL;
    mix(hash, key.seq_len);
    mix(hash, key.micro_batch);
    mix(hash, key.tp);
    mix(hash, key.model);
    return contexts.get(key, hash, [&] { return PlanContext(plan, *model.graph, *model.classes); });
  }

  /// The facts of a stage of `chunk_shapes`; `plan_key` and its hash are the plan's part.
  RecentCache<FactsKey, StageFacts, 32>::Found stage(const TrainingPlan& plan,
                                                     const ModelEntry& model,
                                                     const std::vector<ChunkShape>& chunk_shapes,
                                                     const FactsPlanKey& plan_key,
                                                     uint64_t plan_hash) {
    const bool embedding = carries_embedding(chunk_shapes);
    const ParamGroups& param_groups = groups(plan, model, embedding);
    int64_t layers = 0;
    bool head = false;
    for (const ChunkShape& shape : chunk_shapes) {
      layers += shape.layers;
      head = head || shape.head;
    }
    uint64_t hash = plan_hash;
    mix(hash, &param_groups);
    mix(hash, layers);
    mix(hash, embedding);
    mix(hash, head);
    return facts.get({plan_key, &param_groups, layers, embedding, head}, hash,
                     [&] { return stage_facts(plan, *model.graph, chunk_shapes, param_groups); });
  }

  /// The chunk shapes of every stage, and their kinds.
  const StageLayout& layout(int64_t layers, const PipelineParallelism& pp) {
    StageLayout& entry = layouts[{layers, pp.stages, pp.virtual_stages, pp.layers_per_stage,
                                  pp.embedding_as_layer, pp.loss_as_layer}];
    if (entry.shapes.empty()) {
      const std::vector<int64_t> per_chunk = chunk_layers(layers, pp);
      for (int64_t s = 0; s < pp.stages; ++s) {
        entry.shapes.push_back(stage_shapes(per_chunk, s, pp.stages));
        size_t kind = 0;
        while (kind < entry.representative.size() &&
               !same_shape(entry.shapes[entry.representative[kind]], entry.shapes.back())) {
          ++kind;
        }
        if (kind == entry.representative.size()) entry.representative.push_back(s);
        entry.kind.push_back(static_cast<int32_t>(kind));
      }
    }
    return entry;
  }

  const ParamGroups& groups(const TrainingPlan& plan, const ModelEntry& model,
                            bool embedding_here) {
    const auto& tp = plan.parallel.tp;
    const ParamKey key{&model, tp.degree, tp.vocab_multiple, embedding_here};
    auto it = params.find(key);
    if (it == params.end()) {
      it = params.emplace(key, param_groups(plan, *model.graph, embedding_here)).first;
    }
    return it->second;
  }
};

FastEvaluator::FastEvaluator() : caches_(std::make_unique<Caches>()) {}
FastEvaluator::~FastEvaluator() = default;

FastResult FastEvaluator::evaluate(const TrainingPlan& plan, StagePeaks detail) {
  Caches& caches = *caches_;
  const ModelEntry& model = caches.model(plan.model);
  const sim::LayerGraph& graph = *model.graph;
  const QuantityIndex& index = *model.index;
  const PipelineParallelism& pp = plan.parallel.pp;
  const auto [context, context_id] = caches.context(plan, model);
  const StageLayout& layout = caches.layout(plan.model.layers, pp);
  ScheduleEntry& schedule = caches.schedule(pp, plan.microbatches());
  const int prefetch =
      static_cast<int>(plan.parallel.dp.zero == 3 ? plan.parallel.dp.prefetch_layers : 0);
  const size_t policy = plan.checkpointing.index();
  const auto* full = std::get_if<FullCheckpointing>(&plan.checkpointing);
  const int64_t every = full != nullptr ? full->every : 0;
  const std::span<const sim::OpId> twins = graph.twins();
  std::vector<int64_t>& quantities = caches.quantities;
  bool context_quantities = false;  // filled in `quantities` yet

  // Each kind of stage: its facts, and its chunks re-sized from their profiles' context
  // part (shared by every stage state) and stage part (shared by every context).
  const size_t kind_count = layout.representative.size();
  const FactsPlanKey facts_key = facts_plan_key(plan);
  uint64_t facts_hash = 0xCBF29CE484222325ULL;
  for (const int64_t n :
       {facts_key.tp, facts_key.pp, facts_key.dp.degree, static_cast<int64_t>(facts_key.dp.zero),
        static_cast<int64_t>(facts_key.dp.offload), static_cast<int64_t>(facts_key.recipe)}) {
    mix(facts_hash, n);
  }
  mix(facts_hash, facts_key.optimizer);
  auto [profiles, profiles_new] =
      caches.kind_profiles.get({&layout, &model, policy, every, prefetch});
  if (profiles_new) profiles->assign(kind_count, {});
  caches.kinds.resize(std::max(caches.kinds.size(), kind_count));
  for (size_t k = 0; k < kind_count; ++k) {
    const int64_t representative = layout.representative[k];
    const std::vector<ChunkShape>& shapes = layout.shapes[representative];
    KindNumbers& numbers = caches.kinds[k];
    const auto [facts, facts_id] = caches.stage(plan, model, shapes, facts_key, facts_hash);
    numbers.facts = facts;
    numbers.resident = facts->resident.total();
    numbers.chunks.assign(shapes.size(), {});
    numbers.times.assign(shapes.size(), {});
    const bool on_demand = facts->gradients_on_demand;
    std::vector<ChunkEntry*>& entries = (*profiles)[k];
    if (entries.empty()) {
      sim::RankProgram program;  // compiled only when a chunk shape is new
      for (size_t c = 0; c < shapes.size(); ++c) {
        const ChunkKey key{&model, shapes[c].layers, shapes[c].embedding, shapes[c].head, policy,
                           every,  prefetch};
        auto found = caches.chunks.find(key);
        if (found == caches.chunks.end()) {
          if (program.graph == nullptr) {
            program = stage_program(plan, graph, *context, *facts, shapes, representative);
          }
          found = caches.chunks.emplace(key, ChunkEntry{}).first;
          found->second.profile = profile_chunk(program, c, index, model.tensor_class);
        }
        entries.push_back(&found->second);
      }
    }
    for (size_t c = 0; c < shapes.size(); ++c) {
      ChunkEntry& entry = *entries[c];
      const ChunkProfile& profile = entry.profile;
      auto [context_part, context_new] = entry.context_parts.get(context_id);
      PartValues& from_context = *context_part;
      if (context_new) {
        if (!context_quantities) {
          quantities.assign(index.count(), 0);
          for (int q = 0; q < model.classes->count(); ++q) {
            quantities[q] = context->class_bytes(q).value();
          }
          for (size_t slot = 0; slot < twins.size(); ++slot) {
            quantities[index.buffer(static_cast<int>(slot))] =
                context->twin_cost(static_cast<int>(slot)).forward_buffer.value();
          }
          context_quantities = true;
        }
        evaluate_pass(profile.forward, true, quantities, from_context.forward,
                      from_context.forward_net);
        evaluate_pass(profile.backward, true, quantities, from_context.backward,
                      from_context.backward_net);
        evaluate_pass(profile.first_backward, true, quantities, from_context.first_backward,
                      from_context.first_backward_net);
        from_context.times = {};
        for (const ChunkProfile::Runs& runs : profile.runs) {
          const sim::OpCost& cost = context->twin_cost(runs.slot);
          from_context.times.forward_s += static_cast<double>(runs.forward) * cost.forward_s;
          from_context.times.backward_s += static_cast<double>(runs.forward) * cost.backward_s +
                                           static_cast<double>(runs.recompute) * cost.forward_s;
        }
      }

      auto [stage_part, stage_new] = entry.stage_parts.get(facts_id);
      PartValues& from_stage = *stage_part;
      if (stage_new) {
        // The stage's quantities sit after the context's: no need to clear those.
        if (quantities.size() != static_cast<size_t>(index.count())) {
          quantities.assign(index.count(), 0);
        }
        const ShardedStates& states = facts->states;
        for (size_t slot = 0; slot < twins.size(); ++slot) {
          quantities[index.parameter_gradients(static_cast<int>(slot))] =
              on_demand ? states.gradients_per_twin[slot].value() : 0;
        }
        const sim::Bytes gathered[] = {states.gathered.embedding, states.gathered.layer,
                                       states.gathered.head};
        const sim::Bytes gradients[] = {states.gradients.embedding, states.gradients.layer,
                                        states.gradients.head};
        for (int kind = 0; kind < 3; ++kind) {
          quantities[index.gathered(kind)] = gathered[kind].value();
          quantities[index.layer_gradients(kind)] = gradients[kind].value();
        }
        quantities[index.bucket()] = states.reduce_bucket.value();
        evaluate_pass(profile.forward, false, quantities, from_stage.forward,
                      from_stage.forward_net);
        evaluate_pass(profile.backward, false, quantities, from_stage.backward,
                      from_stage.backward_net);
        // Without gradients made on demand the first backward is like the others.
        if (on_demand) {
          evaluate_pass(profile.first_backward, false, quantities, from_stage.first_backward,
                        from_stage.first_backward_net);
        }
      }

      ChunkNumbers& chunk = numbers.chunks[c];
      chunk.saved = from_context.forward_net + from_stage.forward_net;
      chunk.peaks[kForwardPass] = fullest(from_context.forward, from_stage.forward);
      chunk.peaks[kBackwardPass] = fullest(from_context.backward, from_stage.backward);
      chunk.peaks[kFirstBackwardPass] =
          on_demand ? fullest(from_context.first_backward, from_stage.first_backward)
                    : chunk.peaks[kBackwardPass];
      chunk.gradients = on_demand
                            ? (from_context.first_backward_net + from_stage.first_backward_net) -
                                  (from_context.backward_net + from_stage.backward_net)
                            : 0;
      numbers.times[c] = from_context.times;
    }
    // The gradient reduction can hide behind the last microbatch's backward compute.
    double window = 0.0;
    for (const ChunkTimes& t : numbers.times)
      window += t.backward_s;
    numbers.after_steps_s =
        facts->sync_s(plan.parallel.dp.overlap_communication, window) + facts->optimizer_s;
    caches.spans.assign(plan.parallel.dp.zero == 3 ? shapes.size() : 0, {});
    add_gather_time(plan, *facts, caches.spans, numbers.times);
  }

  // The fullest moment of each stage's schedule (or of each kind's stages together).
  const int64_t v = pp.virtual_stages;
  auto fullest_moment = [v](const StageMoments& moments, const KindNumbers& numbers) {
    const int32_t* m = moments.data.data();
    int64_t dynamic = 0;
    for (int64_t i = 0; i < moments.count; ++i, m += 2 + 2 * v) {
      int64_t held = numbers.chunks[m[0]].peaks[m[1]];
      for (int64_t c = 0; c < v; ++c) {
        held += m[2 + c] * numbers.chunks[c].saved + m[2 + v + c] * numbers.chunks[c].gradients;
      }
      dynamic = std::max(dynamic, held);
    }
    return dynamic;
  };
  auto stage_peak = [&plan](const KindNumbers& numbers, int64_t dynamic) {
    return numbers.resident + sim::Bytes(dynamic) + allocator_reserve(plan, sim::Bytes(dynamic));
  };
  FastResult result;
  if (detail == StagePeaks::kEvery) {
    result.stage_peaks.resize(pp.stages);
    for (int64_t s = 0; s < pp.stages; ++s) {
      const KindNumbers& numbers = caches.kinds[layout.kind[s]];
      result.stage_peaks[s] = stage_peak(numbers, fullest_moment(schedule.flat[s], numbers));
      result.peak = std::max(result.peak, result.stage_peaks[s]);
    }
  } else {
    auto [by_kind, by_kind_new] = schedule.kind_moments.get(&layout);
    if (by_kind_new) {
      std::vector<std::vector<Moment>> merged(kind_count);
      for (int64_t s = 0; s < pp.stages; ++s) {
        for (const Moment& m : schedule.moments[s])
          add_undominated(merged[layout.kind[s]], m);
      }
      by_kind->clear();
      for (const auto& moments : merged)
        by_kind->push_back(flatten(moments));
    }
    for (size_t k = 0; k < kind_count; ++k) {
      const KindNumbers& numbers = caches.kinds[k];
      result.peak =
          std::max(result.peak, stage_peak(numbers, fullest_moment((*by_kind)[k], numbers)));
    }
  }

  // Timing: the same list scheduling as the walk, once per distinct set of stage times;
  // then each stage's synchronisation and optimizer step.
  TimingKey& key = caches.timing_key;
  key.layout = &layout;
  key.transfer_s = pipeline_transfer_s(plan, *context);
  key.times.clear();
  for (size_t k = 0; k < kind_count; ++k) {
    for (const ChunkTimes& t : caches.kinds[k].times) {
      key.times.push_back(t.forward_s);
      key.times.push_back(t.backward_s);
    }
  }
  auto [timed, timed_new] = schedule.timings.get(key);
  if (timed_new) {
    caches.stage_times.resize(pp.stages);
    for (int64_t s = 0; s < pp.stages; ++s)
      caches.stage_times[s] = caches.kinds[layout.kind[s]].times;
    const PipelineTiming timing = time_order(schedule.order, caches.stage_times, key.transfer_s,
                                             nullptr, &caches.timing_scratch);
    timed->end_s = timing.end_s;
    timed->bubble_fraction = timing.bubble_fraction;
  }
  result.bubble_fraction = timed->bubble_fraction;
  for (int64_t s = 0; s < pp.stages; ++s) {
    result.step_time_s =
        std::max(result.step_time_s, timed->end_s[s] + caches.kinds[layout.kind[s]].after_steps_s);
  }

  // Host memory: every rank of a node holds its stage's offloaded share. Ranks run TP
  // fastest, then DP, then PP, so a node's ranks are a run of whole or partial stages.
  const int64_t per_node = plan.cluster.gpus_per_node;
  const int64_t per_stage = plan.parallel.tp.degree * plan.parallel.dp.degree;
  bool offloads = false;
  for (size_t k = 0; k < kind_count; ++k)
    offloads = offloads || caches.kinds[k].facts->states.cpu.value() > 0;
  for (int64_t first = 0; offloads && first < plan.cluster.world_size(); first += per_node) {
    sim::Bytes node;
    for (int64_t rank = first; rank < first + per_node;) {
      const int64_t stage = rank / per_stage;
      const int64_t until = std::min(first + per_node, (stage + 1) * per_stage);
      node += caches.kinds[layout.kind[stage]].facts->states.cpu * (until - rank);
      rank = until;
    }
    result.cpu_bytes_per_node = std::max(result.cpu_bytes_per_node, node);
  }
  result.fits = result.peak <= plan.cluster.gpu.capacity &&
                result.cpu_bytes_per_node <= plan.cluster.cpu_memory_per_node();
  if (result.step_time_s > 0.0) {
    result.tokens_per_s = static_cast<double>(plan.training.global_batch * plan.training.seq_len) /
                          result.step_time_s;
    result.model_flops_utilization =
        model_flops_per_step(plan, *context) /
        (result.step_time_s * static_cast<double>(plan.cluster.world_size()) *
         plan.cluster.gpu.peak_16bit_flop_per_s);
  }
  return result;
}

}  // namespace memsim::strategies
