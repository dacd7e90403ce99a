#include "strategies/fast_evaluator.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <numeric>
#include <optional>
#include <span>
#include <tuple>
#include <variant>

#include "sim/check.h"
#include "strategies/chunk_profile.h"
#include "strategies/compiled_plan.h"
#include "strategies/evaluate.h"
#include "strategies/plan_context.h"
#include "strategies/schedules.h"
#include "strategies/stage_facts.h"
#include "strategies/stage_sizes.h"
#include "strategies/step_summary.h"

namespace memsim::strategies {

namespace {

/// A model's graph and the index of its quantities, built once.
struct ModelEntry {
  sim::ModelSpec spec;
  std::unique_ptr<sim::LayerGraph> graph;
  std::unique_ptr<sim::QuantityIndex> index;
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

/// Whether moment b lies on the segment from a to c (same step): its counts are a
/// weighted mean of theirs, so what it holds never exceeds the larger of the two.
bool between(const Moment& a, const Moment& b, const Moment& c) {
  if (a.kind != c.kind || a.chunk != c.chunk || a.first_backward != c.first_backward ||
      b.kind != c.kind || b.chunk != c.chunk || b.first_backward != c.first_backward) {
    return false;
  }
  std::vector<int64_t> u;  // b − a, then c − b
  std::vector<int64_t> w;
  for (size_t i = 0; i < a.in_flight.size(); ++i) {
    u.push_back(b.in_flight[i] - a.in_flight[i]);
    u.push_back(b.gradients_made[i] - a.gradients_made[i]);
    w.push_back(c.in_flight[i] - b.in_flight[i]);
    w.push_back(c.gradients_made[i] - b.gradients_made[i]);
  }
  size_t k = 0;
  while (k < u.size() && u[k] == 0)
    ++k;
  if (k == u.size()) return true;
  if (w[k] == 0 || (w[k] > 0) != (u[k] > 0)) return false;
  for (size_t i = 0; i < u.size(); ++i) {
    if (u[i] * w[k] != w[i] * u[k]) return false;
  }
  return true;
}

/// Adds `m` to `moments` unless one of them dominates it; drops those it dominates, and the
/// last moment of the same step if it lies between the one before it and `m`.
void add_undominated(std::vector<Moment>& moments, const Moment& m) {
  if (std::any_of(moments.begin(), moments.end(),
                  [&](const Moment& e) { return dominated(m, e); })) {
    return;
  }
  std::erase_if(moments, [&](const Moment& e) { return dominated(e, m); });
  auto same_step = [&](const Moment& e) {
    return e.kind == m.kind && e.chunk == m.chunk && e.first_backward == m.first_backward;
  };
  const auto last = std::find_if(moments.rbegin(), moments.rend(), same_step);
  if (last != moments.rend()) {
    const auto before = std::find_if(std::next(last), moments.rend(), same_step);
    if (before != moments.rend() && between(*before, *last, m)) {
      moments.erase(std::next(last).base());
    }
  }
  moments.push_back(m);
}

std::vector<Moment> moments_of(const std::vector<sim::ScheduledStep>& steps, int64_t chunks) {
  std::vector<Moment> moments;
  Moment m{sim::StepKind::kForward, 0, false, std::vector<int64_t>(chunks, 0),
           std::vector<int64_t>(chunks, 0)};
  std::vector<int64_t>& in_flight = m.in_flight;
  std::vector<int64_t>& made = m.gradients_made;
  for (const sim::ScheduledStep& step : steps) {
    const bool forward = step.kind == sim::StepKind::kForward;
    m.kind = step.kind;
    m.chunk = step.chunk;
    m.first_backward = !forward && made[step.chunk] == 0;
    add_undominated(moments, m);
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
/// in-flight count and the gradients-made flag of each class of its chunks. Chunks of one
/// shape hold the same (same profile, same stage), so moments may count them together: a
/// class stands for its chunks, `chunks[j]` being one of them.
struct StageMoments {
  std::vector<int32_t> data;
  int64_t count = 0;
  std::vector<int32_t> chunks;  ///< per class, a chunk of it
};

/// `moments` with the chunks of each class of `shapes` counted together.
std::vector<Moment> by_class(const std::vector<Moment>& moments,
                             const std::vector<ChunkShape>& shapes,
                             std::vector<int32_t>& representatives) {
  std::vector<size_t> class_of(shapes.size());
  representatives.clear();
  for (size_t c = 0; c < shapes.size(); ++c) {
    size_t j = 0;
    while (j < representatives.size() && !same_shape({shapes[representatives[j]]}, {shapes[c]})) {
      ++j;
    }
    if (j == representatives.size()) representatives.push_back(static_cast<int32_t>(c));
    class_of[c] = j;
  }
  std::vector<Moment> projected;
  for (const Moment& m : moments) {
    Moment p{m.kind, representatives[class_of[m.chunk]], m.first_backward,
             std::vector<int64_t>(representatives.size(), 0),
             std::vector<int64_t>(representatives.size(), 0)};
    for (size_t c = 0; c < shapes.size(); ++c) {
      p.in_flight[class_of[c]] += m.in_flight[c];
      p.gradients_made[class_of[c]] += m.gradients_made[c];
    }
    add_undominated(projected, p);
  }
  return projected;
}

StageMoments flatten(const std::vector<Moment>& moments, std::vector<int32_t> chunks) {
  StageMoments flat;
  flat.chunks = std::move(chunks);
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
    // The last found first; then hashes, kept apart from the (large) keys so a scan touches
    // little memory.
    if (last_ < hashes_.size() && hashes_[last_] == hash && entries_[last_].key == key) {
      used_[last_] = clock_;
      return {entries_[last_].value.get(), entries_[last_].id};
    }
    for (size_t i = 0; i < hashes_.size(); ++i) {
      if (hashes_[i] == hash && entries_[i].key == key) {
        used_[i] = clock_;
        last_ = i;
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
    last_ = slot;
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
  size_t last_ = 0;  ///< the entry found last
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
  bool operator==(const ParamKey& other) const { return tie() == other.tie(); }
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

/// One pass of a chunk evaluated on some quantities: each candidate prefix's sum, and the
/// pass's net.
struct PassValues {
  std::vector<int64_t> peaks;
  int64_t net = 0;
};

/// A chunk's three passes (by PassKind) on the context's quantities: per sample (times the
/// micro-batch) and fixed (the few that do not grow with it), or on the stage's.
struct PartValues {
  PassValues passes[3];
  PassValues fixed[3];  ///< empty peaks: none
};

/// A chunk profile with its parts for the last few contexts (by per-sample context and
/// fixed quantities) and stage states (by id), and its compute times per context.
struct ChunkEntry {
  ChunkProfile profile;
  LastFew<std::pair<uint64_t, uint64_t>, PartValues, 8> context_parts;
  LastFew<uint64_t, PartValues, 8> stage_parts;
  LastFew<uint64_t, ChunkTimes, 8> times;
};

const PassProfile& pass_of(const ChunkProfile& profile, int kind) {
  return kind == kForwardPass ? profile.forward
                              : (kind == kBackwardPass ? profile.backward : profile.first_backward);
}

/// A plan's context, and how it relates to the context of one sample per microbatch: when
/// each byte quantity is either `scale` times that one's or equal to it (checked), chunk
/// sums per sample serve every micro-batch, the fixed quantities added apart.
struct ContextEntry {
  ContextEntry(PlanContext made, const sim::QuantityIndex& index) : context(std::move(made)) {
    price_context(context, index, sizes);
  }
  PlanContext context;
  std::vector<sim::Bytes> sizes;  ///< the context's quantities
  bool related = false;
  uint64_t sample_id = 0;  ///< what its per-sample sums are kept under
  int64_t scale = 1;
  std::vector<int> fixed;  ///< quantities that do not grow with the micro-batch
  uint64_t fixed_id = 0;   ///< names the set `fixed`
};

/// A schedule timed with some stage times: the same times give the same answer.
struct TimingKey {
  const StageLayout* layout = nullptr;
  double transfer_s = 0.0;
  std::vector<double> times;  ///< per kind and chunk: forward, backward
  bool operator==(const TimingKey&) const = default;
};
struct TimingValue {
  std::vector<double> last_end_s;  ///< per kind of stage: when its last stage ends
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

/// The fullest a chunk pass gets: the largest candidate (per-sample context sums times the
/// micro-batch, plus fixed ones and the stage's), never below the start.
int64_t fullest(int64_t scale, const PassValues& context, const PassValues& fixed,
                const PassValues& stage) {
  int64_t best = 0;
  const size_t n = context.peaks.size();
  if (fixed.peaks.empty()) {
    for (size_t i = 0; i < n; ++i)
      best = std::max(best, scale * context.peaks[i] + stage.peaks[i]);
  } else {
    for (size_t i = 0; i < n; ++i) {
      best = std::max(best, scale * context.peaks[i] + fixed.peaks[i] + stage.peaks[i]);
    }
  }
  return best;
}

/// Where a chunk pass ends, from the same parts.
int64_t net(int64_t scale, const PassValues& context, const PassValues& fixed,
            const PassValues& stage) {
  return scale * context.net + fixed.net + stage.net;
}

void evaluate_stage_pass(const PassProfile& pass, const std::vector<int64_t>& quantities,
                         PassValues& out) {
  pass.stage_peaks.evaluate(quantities, out.peaks);
  out.net = pass.stage_net.evaluate(quantities);
}

/// The context terms on per-sample quantities, and (when any) on the fixed ones.
void evaluate_context_pass(const PassProfile& pass, const std::vector<int64_t>& per_sample,
                           const std::vector<int64_t>* fixed, PassValues& out,
                           PassValues& out_fixed) {
  if (fixed == nullptr) {
    pass.context_peaks.evaluate(per_sample, out.peaks);
    out.net = pass.context_net.evaluate(per_sample);
    out_fixed.peaks.clear();
    out_fixed.net = 0;
    return;
  }
  pass.context_peaks.evaluate(per_sample, *fixed, out.peaks, out_fixed.peaks);
  std::tie(out.net, out_fixed.net) = pass.context_net.evaluate(per_sample, *fixed);
}

}  // namespace

struct FastEvaluator::Caches {
  std::vector<std::unique_ptr<ModelEntry>> models;
  std::map<ChunkKey, ChunkEntry> chunks;
  LastFew<ProfilesKey, KindProfiles, 8> kind_profiles;
  std::map<std::tuple<const ScheduleInfo*, int64_t, int64_t, int64_t>, ScheduleEntry> schedules;
  std::map<ParamKey, ParamGroups> params;
  // The last few found in the maps above and below: most lookups repeat a recent one.
  LastFew<std::tuple<const ScheduleInfo*, int64_t, int64_t, int64_t>, ScheduleEntry*, 8>
      recent_schedules;
  std::string last_schedule_name;
  const ScheduleInfo* last_schedule = nullptr;
  LastFew<ParamKey, const ParamGroups*, 8> recent_params;
  std::map<std::tuple<int64_t, int64_t, int64_t, std::vector<int64_t>, bool, bool>, StageLayout>
      layouts;
  LastFew<std::tuple<int64_t, int64_t, int64_t, std::vector<int64_t>, bool, bool>, StageLayout*, 8>
      recent_layouts;
  RecentCache<ContextKey, ContextEntry> contexts;
  std::vector<std::vector<int>> fixed_sets;  ///< the distinct ContextEntry::fixed
  RecentCache<FactsKey, StageFacts, 32> facts;
  // Scratch reused between evaluations.
  std::vector<int64_t> quantities;         ///< the stage's
  std::vector<sim::Bytes> stage_sizes;     ///< the same, as priced
  std::vector<sim::Bytes> stage_cpu;       ///< per stage: host memory of each of its ranks
  std::vector<int64_t> sample_quantities;  ///< the context's, per sample
  std::vector<int64_t> fixed_quantities;   ///< the context's that do not grow
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
    entry->index = std::make_unique<sim::QuantityIndex>(*entry->graph);
    models.push_back(std::move(entry));
    return *models.back();
  }

  ScheduleEntry& schedule(const PipelineParallelism& pp, int64_t microbatches) {
    if (pp.schedule != last_schedule_name) {
      last_schedule = find_schedule(pp.schedule);
      MEMSIM_CHECK(last_schedule != nullptr);
      last_schedule_name = pp.schedule;
    }
    const ScheduleInfo* info = last_schedule;
    const auto key = std::tuple{info, pp.stages, pp.virtual_stages, microbatches};
    auto [recent, fresh] = recent_schedules.get(key);
    if (!fresh) return **recent;
    ScheduleEntry& entry = schedules[key];
    *recent = &entry;
    if (entry.moments.empty()) {
      const auto steps = every_stage_steps(*info, pp.stages, pp.virtual_stages, microbatches);
      for (const auto& stage_steps : steps) {
        entry.moments.push_back(moments_of(stage_steps, pp.virtual_stages));
        std::vector<int32_t> every_chunk(pp.virtual_stages);
        std::iota(every_chunk.begin(), every_chunk.end(), 0);
        entry.flat.push_back(flatten(entry.moments.back(), std::move(every_chunk)));
      }
      entry.order = order_schedule(steps, pp.virtual_stages);
    }
    return entry;
  }

  RecentCache<ContextKey, ContextEntry>::Found context(const TrainingPlan& plan,
                                                       const ModelEntry& model) {
    auto hash_of = [](const ContextKey& key) {
      uint64_t hash = 0xCBF29CE484222325ULL;
      mix(hash, key.seq_len);
      mix(hash, key.micro_batch);
      mix(hash, key.tp);
      mix(hash, key.model);
      return hash;
    };
    const ContextKey key = context_key(model, plan);
    const auto found = contexts.get(key, hash_of(key), [&] {
      return ContextEntry(PlanContext(plan, *model.graph, model.index->classes()), *model.index);
    });
    // Values are never moved while cached, and nothing else holds this one now.
    auto& entry = const_cast<ContextEntry&>(*found.value);
    if (!entry.related) {
      entry.related = true;
      entry.sample_id = found.id;
      const int64_t b = plan.training.micro_batch;
      if (b > 1) {
        ContextKey one = key;
        one.micro_batch = 1;
        const auto sample = contexts.get(one, hash_of(one), [&] {
          TrainingPlan single = plan;
          single.training.micro_batch = 1;
          return ContextEntry(PlanContext(single, *model.graph, model.index->classes()),
                              *model.index);
        });
        relate(entry, *sample.value, sample.id, b, model);
      }
    }
    return found;
  }

  /// Relates `entry` (micro-batch `b`) to `sample` (micro-batch 1) when each quantity is b
  /// times the sample's or equal to it.
  void relate(ContextEntry& entry, const ContextEntry& sample, uint64_t sample_id, int64_t b,
              const ModelEntry& model) {
    std::vector<int> fixed;
    for (int q = 0; q < model.index->context_count(); ++q) {
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
    const auto key = std::tuple{
        layers,          pp.stages, pp.virtual_stages, pp.layers_per_stage, pp.embedding_as_layer,
        pp.loss_as_layer};
    auto [recent, fresh] = recent_layouts.get(key);
    if (!fresh) return **recent;
    StageLayout& entry = layouts[key];
    *recent = &entry;
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
    auto [recent, fresh] = recent_params.get(key);
    if (!fresh) return **recent;
    auto it = params.find(key);
    if (it == params.end()) {
      it = params.emplace(key, param_groups(plan, *model.graph, embedding_here)).first;
    }
    *recent = &it->second;
    return it->second;
  }
};

FastEvaluator::FastEvaluator() : caches_(std::make_unique<Caches>()) {}
FastEvaluator::~FastEvaluator() = default;

namespace {

/// Inference walks a prefill and one decode step per stage: cheap enough to walk as is.
FastResult inference_result(const TrainingPlan& plan) {
  const TrainingReport report = strategies::evaluate(plan);
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

}  // namespace

FastResult FastEvaluator::evaluate(const TrainingPlan& plan, StagePeaks detail) {
  if (plan.mode == Mode::kInference) return inference_result(plan);
  Caches& caches = *caches_;
  const ModelEntry& model = caches.model(plan.model);
  const sim::LayerGraph& graph = *model.graph;
  const sim::QuantityIndex& index = *model.index;
  const PipelineParallelism& pp = plan.parallel.pp;
  const auto [context_entry, context_id] = caches.context(plan, model);
  const PlanContext* context = &context_entry->context;
  const int64_t scale = context_entry->scale;
  const StageLayout& layout = caches.layout(plan.model.layers, pp);
  ScheduleEntry& schedule = caches.schedule(pp, plan.microbatches());
  const int prefetch =
      static_cast<int>(plan.parallel.dp.zero == 3 ? plan.parallel.dp.prefetch_layers : 0);
  const size_t policy = plan.checkpointing.index();
  const auto* full = std::get_if<FullCheckpointing>(&plan.checkpointing);
  const int64_t every = full != nullptr ? full->every : 0;
  std::vector<int64_t>& quantities = caches.quantities;
  bool context_quantities = false;  // the context's filled in yet

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
            program = stage_program(plan, graph, index, *context, *facts, shapes, representative);
          }
          found = caches.chunks.emplace(key, ChunkEntry{}).first;
          found->second.profile = profile_chunk(program, c);
        }
        entries.push_back(&found->second);
      }
    }
    for (size_t c = 0; c < shapes.size(); ++c) {
      // Chunks of one shape (an interleaved stage's middle ones) come to the same.
      const auto same =
          std::find(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(c), entries[c]);
      if (same != entries.begin() + static_cast<std::ptrdiff_t>(c)) {
        numbers.chunks[c] = numbers.chunks[same - entries.begin()];
        numbers.times[c] = numbers.times[same - entries.begin()];
        continue;
      }
      ChunkEntry& entry = *entries[c];
      const ChunkProfile& profile = entry.profile;
      auto [context_part, context_new] =
          entry.context_parts.get({context_entry->sample_id, context_entry->fixed_id});
      const PartValues& from_context = *context_part;
      if (context_new) {
        if (!context_quantities) {
          caches.sample_quantities.assign(index.count(), 0);
          caches.fixed_quantities.assign(index.count(), 0);
          for (int q = 0; q < index.context_count(); ++q) {
            caches.sample_quantities[q] = context_entry->sizes[q].value() / scale;
          }
          for (const int q : context_entry->fixed) {
            caches.fixed_quantities[q] = caches.sample_quantities[q] * scale;
            caches.sample_quantities[q] = 0;
          }
          context_quantities = true;
        }
        const std::vector<int64_t>* fixed =
            context_entry->fixed.empty() ? nullptr : &caches.fixed_quantities;
        for (int kind = 0; kind < 3; ++kind) {
          evaluate_context_pass(pass_of(profile, kind), caches.sample_quantities, fixed,
                                context_part->passes[kind], context_part->fixed[kind]);
        }
      }
      auto [times, times_new] = entry.times.get(context_id);
      if (times_new) {
        *times = chunk_times(profile.runs, *context);
      }

      auto [stage_part, stage_new] = entry.stage_parts.get(facts_id);
      const PartValues& from_stage = *stage_part;
      if (stage_new) {
        price_stage(*facts, index, caches.stage_sizes);
        quantities.assign(index.count(), 0);
        for (int q = index.context_count(); q < index.count(); ++q)
          quantities[q] = caches.stage_sizes[q].value();
        // Without gradients made on demand the first backward is like the others.
        for (int kind = 0; kind < (on_demand ? 3 : 2); ++kind) {
          evaluate_stage_pass(pass_of(profile, kind), quantities, stage_part->passes[kind]);
        }
      }

      ChunkNumbers& chunk = numbers.chunks[c];
      auto peak = [&](int kind) {
        return fullest(scale, from_context.passes[kind], from_context.fixed[kind],
                       from_stage.passes[kind]);
      };
      auto end = [&](int kind) {
        return net(scale, from_context.passes[kind], from_context.fixed[kind],
                   from_stage.passes[kind]);
      };
      chunk.saved = end(kForwardPass);
      chunk.peaks[kForwardPass] = peak(kForwardPass);
      chunk.peaks[kBackwardPass] = peak(kBackwardPass);
      chunk.peaks[kFirstBackwardPass] =
          on_demand ? peak(kFirstBackwardPass) : chunk.peaks[kBackwardPass];
      chunk.gradients = on_demand ? end(kFirstBackwardPass) - end(kBackwardPass) : 0;
      numbers.times[c] = *times;
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
  auto fullest_moment = [](const StageMoments& moments, const KindNumbers& numbers) {
    const auto classes = static_cast<int64_t>(moments.chunks.size());
    const int32_t* m = moments.data.data();
    int64_t dynamic = 0;
    for (int64_t i = 0; i < moments.count; ++i, m += 2 + 2 * classes) {
      int64_t held = numbers.chunks[m[0]].peaks[m[1]];
      for (int64_t j = 0; j < classes; ++j) {
        const ChunkNumbers& chunk = numbers.chunks[moments.chunks[j]];
        held += m[2 + j] * chunk.saved + m[2 + classes + j] * chunk.gradients;
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
      std::vector<std::vector<int32_t>> representatives(kind_count);
      for (int64_t s = 0; s < pp.stages; ++s) {
        const int32_t k = layout.kind[s];
        for (const Moment& m :
             by_class(schedule.moments[s], layout.shapes[s], representatives[k])) {
          add_undominated(merged[k], m);
        }
      }
      by_kind->clear();
      for (size_t k = 0; k < kind_count; ++k) {
        by_kind->push_back(flatten(merged[k], representatives[k]));
      }
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
    timed->last_end_s.assign(kind_count, 0.0);
    for (int64_t s = 0; s < pp.stages; ++s) {
      double& last = timed->last_end_s[layout.kind[s]];
      last = std::max(last, timing.end_s[s]);
    }
    timed->bubble_fraction = timing.bubble_fraction;
  }
  result.bubble_fraction = timed->bubble_fraction;
  // Stages of a kind synchronise and step alike: the last to finish its steps ends last.
  for (size_t k = 0; k < kind_count; ++k) {
    result.step_time_s =
        std::max(result.step_time_s, timed->last_end_s[k] + caches.kinds[k].after_steps_s);
  }

  std::vector<sim::Bytes>& stage_cpu = caches.stage_cpu;
  stage_cpu.resize(pp.stages);
  for (int64_t s = 0; s < pp.stages; ++s)
    stage_cpu[s] = caches.kinds[layout.kind[s]].facts->states.cpu;
  result.cpu_bytes_per_node = fullest_node_cpu_bytes(plan, stage_cpu);
  result.fits = step_fits(plan, result.peak, result.cpu_bytes_per_node);
  const Throughput throughput =
      step_throughput(plan, result.step_time_s, model_flops_per_step(plan, *context));
  result.tokens_per_s = throughput.tokens_per_s;
  result.model_flops_utilization = throughput.model_flops_utilization;
  return result;
}

}  // namespace memsim::strategies
