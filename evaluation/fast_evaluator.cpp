#include "evaluation/fast_evaluator.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "evaluation/chunk_times.h"
#include "evaluation/compiled_plan.h"
#include "evaluation/evaluate.h"
#include "evaluation/fast_tables.h"
#include "evaluation/part_pricing.h"
#include "evaluation/stage_sizes.h"
#include "evaluation/step_summary.h"
#include "evaluation/step_timer.h"
#include "sim/check.h"
#include "strategies/strategy_pass.h"

namespace memsim::evaluation {

using namespace fast;  // NOLINT(google-build-using-namespace): this file's own tables

namespace {

ChunkEntry make_chunk(const ChunkKey& key) {
  ChunkEntry entry;
  entry.profile = profile_chunk(*key.model->graph, *key.model->index, key.form);
  return entry;
}

ParamGroups make_params(const ParamKey& key) {
  return param_groups(*key.model->graph, key.tp, key.embedding_here);
}

/// Inference walks a prefill and one decode step per stage: cheap enough to walk as is.
FastResult inference_result(const Plan& plan) {
  const Report report = evaluation::evaluate(plan);
  FastResult result;
  result.peak = report.peak;
  for (int64_t rank = 0; rank < report.world_size;
       rank += plan.parallel.tp.degree * plan.parallel.dp.degree)
    result.stage_peaks.push_back(report.ranks[rank].memory.peak);
  result.fits = report.fits;
  result.step_time_s = report.step_time_s;
  result.tokens_per_s = report.tokens_per_s;
  return result;
}

/// What pricing a plan's stages found it shares with earlier plans.
struct Lookup {
  const TrainingPlan& plan;
  const ModelEntry& model;
  ContextEntry& context;
  uint64_t context_id;
  const StageLayout& layout;
  /// What the profiles were looked up by (ProfilesKey), with the model and layout.
  const RecipeSettings& settings;
  sim::GradientLifetime gradients;
  KindProfiles& profiles;  ///< per kind, per chunk; empty kinds not looked up yet
  const FactsInputs& facts_inputs;
  uint64_t facts_inputs_id;  ///< the id they are kept under
  bool context_priced = false;
};

/// A plan's stages as last priced (Caches::kinds holds their numbers), for the plan without
/// its batch count: a sweep's innermost axis, the global batch, changes only the schedule.
struct PricedStages {
  TrainingPlan plan;  ///< with no global batch, so pricing cannot depend on it
  const ContextEntry* context = nullptr;
  const StageLayout* layout = nullptr;
  bool whole = false;  ///< priced to the end (else being priced, or never)
};

/// What a step's schedule needs of the plan and its priced stages.
struct StepLookup {
  const TrainingPlan& plan;
  const ContextEntry& context;
  const StageLayout& layout;
  ScheduleEntry& schedule;
};

}  // namespace

struct FastEvaluator::Caches {
  std::vector<std::unique_ptr<ModelEntry>> models;
  Table<ChunkKey, ChunkEntry> chunks{make_chunk};
  sim::LastFew<ProfilesKey, KindProfiles, 8> kind_profiles;
  Table<SeedsKey, OrderSeeds> seeds{make_seeds};
  Table<SeedsKey, MomentSeeds> moment_seeds{make_moment_seeds};
  /// A sweep over the global batch meets many microbatch counts of one schedule: their long
  /// orders and moments come from the same seeds.
  Table<ScheduleKey, ScheduleEntry> schedules{[this](const ScheduleKey& key) {
    const SeedsKey family{key.schedule, key.stages, key.virtual_stages,
                          key.microbatches % microbatch_group(*key.schedule, key.stages)};
    const OrderSeeds* order = extends_from_seeds(*key.schedule, key.stages, key.microbatches)
                                  ? &seeds.get(family)
                                  : nullptr;
    const MomentSeeds* moments = moments_from_seeds(*key.schedule, key.stages, key.microbatches)
                                     ? &moment_seeds.get(family)
                                     : nullptr;
    return schedule_entry(key, order, moments);
  }};
  Table<ParamKey, ParamGroups> params{make_params};
  Table<LayoutKey, StageLayout> layouts{stage_layout};
  /// Enough contexts for a sweep's inner keys to come round again (a grid of 8 micro-batches
  /// by 8 sequence lengths meets 64 per layout, and their one-sample contexts).
  using Contexts = sim::RecentCache<ContextKey, ContextEntry, 128>;
  Contexts contexts;
  /// The distinct ContextEntry::fixed, named by place: the first is the empty set, the
  /// fixed_id of every context with none (a micro-batch of one, or one that is no multiple).
  std::vector<std::vector<int>> fixed_sets{{}};
  std::unordered_set<StageMoments, sim::DerivedHash> moments;  ///< kind_moments' values
  sim::RecentCache<FactsInputs, FactsInputs, 4> interned_facts_inputs;
  sim::Interned<Cluster> clusters;
  sim::Interned<OptimizerSettings> optimizers;
  sim::RecentCache<FactsKey, StageFacts, 32> facts;
  PricedStages priced;  ///< assigned over, reusing its storage
  std::string last_schedule_name;
  const ScheduleInfo* last_schedule = nullptr;
  // Scratch reused between evaluations.
  std::vector<int64_t> quantities;         ///< the stage's
  std::vector<sim::Bytes> stage_sizes;     ///< the same, as priced
  std::vector<int64_t> sample_quantities;  ///< the context's, per sample
  std::vector<int64_t> fixed_quantities;   ///< the context's that do not grow
  std::vector<KindNumbers> kinds;
  std::vector<sim::ChunkSpan> spans;
  std::vector<sim::Bytes> stage_cpu;
  StepTimer step_timer;

  const ModelEntry& model(const sim::ModelSpec& spec, const sim::GraphOptions& options) {
    for (const auto& entry : models) {
      if (entry->spec == spec && entry->options == options) return *entry;
    }
    auto entry = std::make_unique<ModelEntry>();
    entry->spec = spec;
    entry->options = options;
    entry->graph = std::make_unique<sim::LayerGraph>(spec, options);
    entry->index = std::make_unique<sim::QuantityIndex>(*entry->graph, std::span<const int>{},
                                                        kHeldQuantities);
    models.push_back(std::move(entry));
    return *models.back();
  }

  ScheduleEntry& schedule(const PipelineParallelism& pp, int64_t microbatches) {
    if (pp.schedule != last_schedule_name) {
      last_schedule = find_schedule(pp.schedule);
      MEMSIM_CHECK(last_schedule != nullptr);
      last_schedule_name = pp.schedule;
    }
    return schedules.get({microbatches, last_schedule, pp.stages, pp.virtual_stages});
  }

  /// The plan's context, related to the context of one sample per microbatch.
  Contexts::Found context(const TrainingPlan& plan, const ModelEntry& model) {
    const sim::QuantityIndex& index = *model.index;
    auto make = [&](const ContextKey& key) {
      return [&] {
        return ContextEntry(PlanContext(key.inputs, *model.graph, index.classes()), index);
      };
    };
    const ContextKey key{&model, context_inputs(plan, *clusters.get(plan.cluster))};
    const auto found = contexts.get(key, make(key));
    ContextEntry& entry = *found.value;
    if (!entry.related) {
      entry.related = true;
      entry.sample_id = found.id;
      const int64_t b = key.inputs.micro_batch;
      if (b > 1) {
        ContextKey one = key;
        one.inputs.micro_batch = 1;
        const auto sample = contexts.get(one, make(one));
        relate(entry, *sample.value, sample.id, b, index);
      }
    }
    return found;
  }

  /// Relates `entry` (micro-batch `b`) to `sample` (micro-batch 1) when each quantity is b
  /// times the sample's or equal to it.
  void relate(ContextEntry& entry, const ContextEntry& sample, uint64_t sample_id, int64_t b,
              const sim::QuantityIndex& index) {
    std::vector<int> fixed;
    for (int q = 0; q < index.context_count(); ++q) {
      const int64_t mine = entry.sizes[q].value();
      const int64_t one = sample.sizes[q].value();
      if (mine == b * one) continue;
      if (mine != one) return;
      fixed.push_back(q);
    }
    auto known = std::find(fixed_sets.begin(), fixed_sets.end(), fixed);
    if (known == fixed_sets.end()) known = fixed_sets.insert(fixed_sets.end(), fixed);
    entry.sample_id = sample_id;
    entry.scale = b;
    entry.fixed = std::move(fixed);
    entry.fixed_id = static_cast<uint64_t>(known - fixed_sets.begin());
  }

  /// The facts of the stages of kind `k`.
  sim::RecentCache<FactsKey, StageFacts, 32>::Found stage(const Lookup& at, size_t k) {
    const StageExtent& extent = at.layout.extent[k];
    const ParamGroups& groups = params.get({&at.model, at.plan.parallel.tp, extent.embedding});
    return facts.get({at.facts_inputs_id, &groups, &extent},
                     [&] { return stage_facts(at.facts_inputs, *at.model.graph, extent, groups); });
  }

  /// Each chunk of kind `k`'s stages: the entry of its form.
  void find_profiles(Lookup& at, size_t k) {
    std::vector<ChunkEntry*>& entries = at.profiles[k];
    if (!entries.empty()) return;
    for (const ChunkShape& shape : at.layout.shapes[at.layout.representative[k]]) {
      const ChunkForm form{shape, at.settings, at.gradients};
      entries.push_back(&chunks.get({&at.model, form}));
    }
  }

  void price_context_part(Lookup& at, ChunkEntry& entry, PartValues& part);
  void price_stage_part(Lookup& at, ChunkEntry& entry, const StageFacts& facts, PartValues& part);
  void price_kind(Lookup& at, size_t k);
  const PricedStages& price_stages(const TrainingPlan& plan, PlanChange change);
  sim::Bytes fullest_stages(const StepLookup& at, StagePeaks detail, FastResult& result);
};

/// A chunk's candidate sums on the context's quantities, per sample and fixed.
void FastEvaluator::Caches::price_context_part(Lookup& at, ChunkEntry& entry, PartValues& part) {
  const sim::QuantityIndex& index = *at.model.index;
  const int64_t scale = at.context.scale;
  if (!at.context_priced) {
    sample_quantities.assign(index.count(), 0);
    fixed_quantities.assign(index.count(), 0);
    for (int q = 0; q < index.context_count(); ++q)
      sample_quantities[q] = at.context.sizes[q].value() / scale;
    for (const int q : at.context.fixed) {  // as they are: not a multiple of the scale
      fixed_quantities[q] = at.context.sizes[q].value();
      sample_quantities[q] = 0;
    }
    at.context_priced = true;
  }
  const std::vector<int64_t>* fixed = at.context.fixed.empty() ? nullptr : &fixed_quantities;
  for (int kind = 0; kind < passes_of(entry.profile); ++kind) {
    evaluate_context_pass(pass_of(entry.profile, kind), sample_quantities, fixed, part.passes[kind],
                          part.fixed[kind]);
  }
}

/// A chunk's candidate sums on the stage's quantities.
void FastEvaluator::Caches::price_stage_part(Lookup& at, ChunkEntry& entry, const StageFacts& facts,
                                             PartValues& part) {
  const sim::QuantityIndex& index = *at.model.index;
  price_stage(facts, index, stage_sizes);
  quantities.assign(index.count(), 0);
  for (int q = index.context_count(); q < index.count(); ++q)
    quantities[q] = stage_sizes[q].value();
  // Without gradients made on demand the first backward is like the others.
  for (int kind = 0; kind < passes_of(entry.profile); ++kind) {
    const bool first = kind == kFirstBackwardPass || kind == kFirstWeightPass;
    if (!first || facts.gradients != sim::GradientLifetime::kWholeStep)
      evaluate_stage_pass(pass_of(entry.profile, kind), quantities, part.passes[kind]);
  }
}

/// Kind `k`'s facts, and its chunks re-sized from their profiles' context part (shared by
/// every stage state) and stage part (shared by every context).
void FastEvaluator::Caches::price_kind(Lookup& at, size_t k) {
  const std::vector<ChunkShape>& shapes = at.layout.shapes[at.layout.representative[k]];
  KindNumbers& numbers = kinds[k];
  const auto [facts, facts_id] = stage(at, k);
  numbers.facts = facts;
  numbers.fullest = {};
  numbers.resident = facts->resident.total();
  numbers.chunks.assign(shapes.size(), {});
  numbers.host_chunks.assign(shapes.size(), {});
  numbers.times.assign(shapes.size(), {});
  numbers.offloads = false;
  const bool on_demand = facts->gradients != sim::GradientLifetime::kWholeStep;
  MEMSIM_CHECK(!on_demand || at.gradients == facts->gradients);  // the profiles have the pass
  find_profiles(at, k);
  const std::vector<ChunkEntry*>& entries = at.profiles[k];
  const int64_t scale = at.context.scale;
  for (size_t c = 0; c < shapes.size(); ++c) {
    // Chunks of one form (an interleaved stage's middle ones) come to the same.
    const auto same =
        std::find(entries.begin(), entries.begin() + static_cast<ptrdiff_t>(c), entries[c]);
    if (same != entries.begin() + static_cast<ptrdiff_t>(c)) {
      numbers.chunks[c] = numbers.chunks[same - entries.begin()];
      numbers.host_chunks[c] = numbers.host_chunks[same - entries.begin()];
      numbers.times[c] = numbers.times[same - entries.begin()];
      continue;
    }
    ChunkEntry& entry = *entries[c];
    auto [context_part, context_new] =
        entry.context_parts.get({at.context.sample_id, at.context.fixed_id});
    if (context_new) price_context_part(at, entry, *context_part);
    auto [times, times_new] = entry.times.get(at.context_id);
    if (times_new) {
      *times =
          chunk_times(entry.profile.runs, at.context.context, entry.profile.inputs_take_gradients);
    }
    auto [stage_part, stage_new] = entry.stage_parts.get(facts_id);
    if (stage_new) price_stage_part(at, entry, *facts, *stage_part);

    const PartValues& from_context = *context_part;
    const PartValues& from_stage = *stage_part;
    auto peak = [&](int kind) {
      return fullest(scale, from_context.passes[kind], from_context.fixed[kind],
                     from_stage.passes[kind]);
    };
    auto end = [&](int kind) {
      return net(scale, from_context.passes[kind], from_context.fixed[kind],
                 from_stage.passes[kind]);
    };
    ChunkNumbers& chunk = numbers.chunks[c];
    chunk.saved = end(kForwardPass);
    chunk.peaks[kForwardPass] = peak(kForwardPass);
    chunk.peaks[kBackwardPass] = peak(kBackwardPass);
    chunk.peaks[kFirstBackwardPass] =
        on_demand ? peak(kFirstBackwardPass) : chunk.peaks[kBackwardPass];
    chunk.gradients = on_demand ? end(kFirstBackwardPass) - end(kBackwardPass) : 0;
    if (entry.profile.split) {
      chunk.awaiting = chunk.saved + end(kInputPass);
      chunk.peaks[kInputPass] = peak(kInputPass);
      chunk.peaks[kWeightPass] = peak(kWeightPass);
      chunk.peaks[kFirstWeightPass] = on_demand ? peak(kFirstWeightPass) : chunk.peaks[kWeightPass];
    }
    if (entry.profile.offloads) {
      numbers.offloads = true;
      ChunkNumbers& host = numbers.host_chunks[c];
      host.saved = end(kHostForwardPass);
      host.peaks[kForwardPass] = peak(kHostForwardPass);
      host.peaks[kBackwardPass] = host.peaks[kFirstBackwardPass] = peak(kHostBackwardPass);
    }
    numbers.times[c] = *times;
  }
  // The gradient reduction can hide behind the last microbatch's backward compute.
  double window = 0.0;
  for (const ChunkTimes& t : numbers.times)
    window += t.backward_s;
  numbers.after_steps_s = facts->states.sync_s(window) + facts->optimizer_s;
  numbers.optimizer_step = facts->states.step_workspace.value();
  for (const ChunkNumbers& chunk : numbers.chunks)
    numbers.optimizer_step += chunk.gradients;
  spans.assign(shapes.size(), {});
  add_layer_communication(facts->states, spans, numbers.times);
}

/// The fullest moment of each stage's schedule (or of each kind's stages together).
sim::Bytes FastEvaluator::Caches::fullest_stages(const StepLookup& at, StagePeaks detail,
                                                 FastResult& result) {
  const StageLayout& layout = at.layout;
  const size_t kind_count = layout.representative.size();
  auto stage_peak = [&](const KindNumbers& numbers, int64_t fullest) {
    const sim::Bytes passes(fullest);
    result.passes_peak = std::max(result.passes_peak,
                                  numbers.resident + passes + allocator_reserve(at.plan, passes));
    const sim::Bytes dynamic(std::max(fullest, numbers.optimizer_step));
    return numbers.resident + dynamic + allocator_reserve(at.plan, dynamic);
  };
  sim::Bytes peak;
  if (detail == StagePeaks::kEvery) {
    const auto stages = static_cast<int64_t>(layout.kind.size());
    result.stage_peaks.resize(stages);
    for (int64_t s = 0; s < stages; ++s) {
      const KindNumbers& numbers = kinds[layout.kind[s]];
      result.stage_peaks[s] =
          stage_peak(numbers, fullest_moment(at.schedule.flat[s], numbers.chunks));
      peak = std::max(peak, result.stage_peaks[s]);
    }
    return peak;
  }
  auto [by_kind, by_kind_new] = at.schedule.kind_moments.get(&layout);
  if (by_kind_new) {
    std::vector<std::vector<Moment>> merged(kind_count);
    std::vector<std::vector<int32_t>> representatives(kind_count);
    for (size_t s = 0; s < layout.kind.size(); ++s) {
      const int32_t k = layout.kind[s];
      for (const Moment& m :
           by_class(at.schedule.moments[s], layout.shapes[s], representatives[k])) {
        add_undominated(merged[k], m);
      }
    }
    by_kind->clear();
    for (size_t k = 0; k < kind_count; ++k)
      by_kind->push_back(&*moments.insert(flatten(merged[k], representatives[k])).first);
  }
  for (size_t k = 0; k < kind_count; ++k) {
    KindNumbers& numbers = kinds[k];
    auto [fullest, fresh] = numbers.fullest.get((*by_kind)[k]);
    if (fresh) *fullest = fullest_moment(*(*by_kind)[k], numbers.chunks);
    peak = std::max(peak, stage_peak(numbers, *fullest));
  }
  return peak;
}

FastEvaluator::FastEvaluator() : caches_(std::make_unique<Caches>()) {}
FastEvaluator::~FastEvaluator() = default;

namespace {

/// Whether `plan` is `last` (as price_stages keeps it) but for its global batch, which
/// pricing stages does not read.
bool same_but_batch(TrainingPlan& last, const TrainingPlan& plan) {
  last.training.global_batch = plan.training.global_batch;
  last.training.global_batch_auto = plan.training.global_batch_auto;
  const bool same = last == plan;
  last.training.global_batch = 0;
  last.training.global_batch_auto = false;
  return same;
}

}  // namespace

/// The plan's stages priced, or as last priced when the plan differs from that one only in
/// its global batch (compared, or as `change` says: checked in debug builds).
const PricedStages& FastEvaluator::Caches::price_stages(const TrainingPlan& plan,
                                                        PlanChange change) {
  TrainingPlan& last = priced.plan;
  if (priced.whole) {
    if (change == PlanChange::kGlobalBatchOnly) {
#ifndef NDEBUG
      MEMSIM_CHECK(same_but_batch(last, plan));
#endif
      return priced;
    }
    if (same_but_batch(last, plan)) return priced;
  }
  priced.whole = false;
  last = plan;
  last.training.global_batch = 0;
  last.training.global_batch_auto = false;
  const ModelEntry& entry = model(last.model, graph_options(last));
  const auto [found, context_id] = context(last, entry);
  const StageLayout& layout = layouts.get({&entry, last.parallel.pp});
  const RecipeSettings settings = recipe_settings(last, *entry.graph);
  const FactsInputs facts_in =
      facts_inputs(last, *optimizers.get(last.training.optimizer), *clusters.get(last.cluster));
  const sim::GradientLifetime gradients = plan_gradient_lifetime(facts_in);
  auto [profiles, profiles_new] = kind_profiles.get({&layout, &entry, settings, gradients});
  const size_t kind_count = layout.representative.size();
  if (profiles_new) profiles->assign(kind_count, {});
  const auto interned = interned_facts_inputs.get(facts_in, [&] { return facts_in; });
  Lookup at{last,     entry,     *found,    context_id,      layout,
            settings, gradients, *profiles, *interned.value, interned.id};
  kinds.resize(std::max(kinds.size(), kind_count));
  for (size_t k = 0; k < kind_count; ++k)
    price_kind(at, k);
  step_timer.stages(layout, kinds, pipeline_transfer_s(last, found->context));
  priced.context = found;
  priced.layout = &layout;
  priced.whole = true;
  return priced;
}

FastResult FastEvaluator::evaluate(const Plan& scenario, StagePeaks detail, PlanChange change) {
  if (scenario.mode == Mode::kInference) return inference_result(scenario);
  const TrainingPlan& plan = scenario;
  Caches& caches = *caches_;
  const PricedStages& priced = caches.price_stages(plan, change);
  const PipelineParallelism& pp = plan.parallel.pp;
  const StageLayout& layout = *priced.layout;
  const StepLookup at{plan, *priced.context, layout, caches.schedule(pp, plan.microbatches())};
  FastResult result;
  result.peak = caches.fullest_stages(at, detail, result);
  // Two references: small enough for std::function to hold without allocating.
  const StepTimes times = caches.step_timer.time(at.schedule, [&at, &caches](int64_t microbatches) {
    const ScheduleInfo& schedule = *at.schedule.schedule;
    const PipelineParallelism& stages = at.plan.parallel.pp;
    const SeedsKey family{&schedule, stages.stages, stages.virtual_stages,
                          microbatches % microbatch_group(schedule, stages.stages)};
    return order_of(caches.seeds.get(family), microbatches, OrderDetail::kTimingOnly);
  });
  result.step_time_s = times.step_time_s;
  result.bubble_fraction = times.bubble_fraction;

  // Host memory: offloaded states, and activations at each stage's fullest moment (none
  // when no kind of stage offloads anything).
  const auto kinds_used = caches.kinds.begin() + static_cast<ptrdiff_t>(layout.extent.size());
  if (std::any_of(caches.kinds.begin(), kinds_used, [](const KindNumbers& numbers) {
        return numbers.offloads || numbers.facts->states.cpu.value() != 0;
      })) {
    caches.stage_cpu.resize(pp.stages);
    for (int64_t s = 0; s < pp.stages; ++s) {
      const KindNumbers& numbers = caches.kinds[layout.kind[s]];
      caches.stage_cpu[s] = numbers.facts->states.cpu;
      if (numbers.offloads) {
        caches.stage_cpu[s] += sim::Bytes(fullest_moment(at.schedule.flat[s], numbers.host_chunks));
      }
    }
    result.cpu_bytes_per_node = fullest_node_cpu_bytes(plan, caches.stage_cpu);
  }
  result.fits = step_fits(plan, result.peak, result.cpu_bytes_per_node);
  const Throughput throughput =
      step_throughput(plan, result.step_time_s, model_flops_per_step(plan, at.context.context));
  result.tokens_per_s = throughput.tokens_per_s;
  result.model_flops_utilization = throughput.model_flops_utilization;
  return result;
}

}  // namespace memsim::evaluation
