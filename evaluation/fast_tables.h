#pragma once
/// The memo tables of the fast evaluator (fast_evaluator.h): what it derives once per model,
/// layout, schedule, chunk form, context and stage, each under a key that is the derivation's
/// whole input, a plain struct with a defaulted `==` hashed by derived_hash.

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <variant>
#include <vector>

#include "evaluation/chunk_profile.h"
#include "evaluation/pipeline_timing.h"
#include "evaluation/plan_context.h"
#include "evaluation/schedule_moments.h"
#include "evaluation/stage_facts.h"
#include "sim/derived_hash.h"
#include "sim/layer_graph.h"
#include "sim/memo.h"
#include "sim/quantity_index.h"
#include "strategies/schedules.h"

namespace memsim::evaluation::fast {

/// A model's graph and the index of its quantities, built once.
struct ModelEntry {
  sim::ModelSpec spec;
  sim::GraphOptions options;
  std::unique_ptr<sim::LayerGraph> graph;
  std::unique_ptr<sim::QuantityIndex> index;
};

/// The chunk shapes of every stage, canonical (canonical_shape), with stages of alike
/// chunks sharing a kind: they hold and spend the same (only the first and last stage
/// usually differ).
struct StageLayout {
  std::vector<std::vector<ChunkShape>> shapes;  ///< per stage
  std::vector<int32_t> kind;                    ///< per stage
  std::vector<int64_t> representative;          ///< per kind: its first stage
  std::vector<StageExtent> extent;              ///< per kind
};
struct LayoutKey {
  const ModelEntry* model = nullptr;
  PipelineParallelism pp;
  bool operator==(const LayoutKey&) const = default;
};
StageLayout stage_layout(const LayoutKey& key);

/// One pass of a chunk evaluated on some quantities: each candidate prefix's sum, and the
/// pass's net.
struct PassValues {
  std::vector<int64_t> peaks;
  int64_t net = 0;
};

/// The passes of a chunk's profile: the GPU's (by PassKind), then host memory's.
enum ProfilePass : int { kHostForwardPass = kPassKinds, kHostBackwardPass };
inline constexpr int kProfilePasses = kHostBackwardPass + 1;

/// A chunk's passes on the context's quantities: per sample (times the micro-batch) and
/// fixed (the few that do not grow with it), or on the stage's.
struct PartValues {
  PassValues passes[kProfilePasses];
  PassValues fixed[kProfilePasses];  ///< empty peaks: none
};

/// A chunk profile with its parts for the last few contexts (by per-sample context and
/// fixed quantities) and stage states (by id), and its compute times per context.
struct ChunkEntry {
  ChunkProfile profile;
  sim::LastFew<std::pair<uint64_t, uint64_t>, PartValues, 8> context_parts;
  sim::LastFew<uint64_t, PartValues, 8> stage_parts;
  sim::LastFew<uint64_t, ChunkTimes, 8> times;
};
struct ChunkKey {
  const ModelEntry* model = nullptr;
  ChunkForm form;
  bool operator==(const ChunkKey&) const = default;
};

/// A plan's context and its quantities, and how they relate to the context of one sample
/// per microbatch: when each quantity is either `scale` times that one's or equal to it
/// (checked), chunk sums per sample serve every micro-batch, the fixed quantities added apart.
struct ContextEntry {
  ContextEntry(PlanContext made, const sim::QuantityIndex& index);
  PlanContext context;
  std::vector<sim::Bytes> sizes;  ///< the context's quantities
  bool related = false;
  uint64_t sample_id = 0;  ///< what its per-sample sums are kept under
  int64_t scale = 1;
  std::vector<int> fixed;  ///< quantities that do not grow with the micro-batch
  uint64_t fixed_id = 0;   ///< names the set `fixed` (0: none)
};
struct ContextKey {
  const ModelEntry* model = nullptr;
  ContextInputs inputs;
  bool operator==(const ContextKey&) const = default;
};

/// A stage's facts' key: the plan's part (FactsInputs, by the id it is kept under), the
/// stage's parameter groups and extent (its layout's, kept: by address).
struct FactsKey {
  uint64_t inputs = 0;
  const ParamGroups* groups = nullptr;
  const StageExtent* extent = nullptr;
  bool operator==(const FactsKey&) const = default;
};
struct ParamKey {
  const ModelEntry* model = nullptr;
  TensorParallelism tp;
  bool embedding_here = false;
  bool operator==(const ParamKey&) const = default;
};

/// Stages' times, up to a power-of-two scale: the same times give the same timings. Sweeps
/// come back to the same times often (ZeRO-0, 1 and 2 time alike; so do checkpointing
/// policies that recompute nothing), far apart in the grid; each set is kept once, by id.
struct StageTimesKey {
  double transfer_s = 0.0;
  std::vector<ChunkTimes> times;  ///< per kind and chunk
  const StageLayout* layout = nullptr;
  bool operator==(const StageTimesKey&) const = default;
};
/// A schedule timed on some stage times (their StageTimesKey's id).
struct TimingKey {
  uint64_t times_id = 0;
  const ScheduleInfo* schedule = nullptr;
  OrderFamily family;  ///< of its order: a timing moves to the family's other orders
  bool operator==(const TimingKey&) const = default;
};
struct TimingValue {
  std::vector<double> last_end_s;  ///< per kind of stage: when its last stage ends
  double bubble_fraction = 0.0;
};
/// A timing kept for its order's family: which order it timed and where it settled.
struct FamilyTiming {
  TimingValue value;
  ScheduleOrder::Repeat repeat;
  SettledRun settled;
};

/// A schedule's moments and timing order, with its last few timings.
struct ScheduleEntry {
  const ScheduleInfo* schedule = nullptr;
  std::vector<std::vector<Moment>> moments;  ///< per stage, undominated
  std::vector<StageMoments> flat;            ///< the same, flattened
  ScheduleOrder order;
  /// Its last few timings, by their stage times' id (StageTimesKey): looked up first.
  sim::LastFew<uint64_t, TimingValue, 16> recent_timings;
  /// Per layout, per kind of stage: the moments of all its stages, undominated.
  /// Interned (Caches::moments): equal moments, one address, whatever the microbatches.
  sim::LastFew<const StageLayout*, std::vector<const StageMoments*>, 4> kind_moments;
};
/// The microbatches come first: a sweep's recent schedules differ there, and `==` looks no
/// further.
struct ScheduleKey {
  int64_t microbatches = 1;
  const ScheduleInfo* schedule = nullptr;
  int64_t stages = 1;
  int64_t virtual_stages = 1;
  bool operator==(const ScheduleKey&) const = default;
};
/// Which seeds a schedule's orders extend from (see OrderSeeds).
struct SeedsKey {
  const ScheduleInfo* schedule = nullptr;
  int64_t stages = 1;
  int64_t virtual_stages = 1;
  int64_t residue = 0;  ///< microbatches modulo the schedule's group
  bool operator==(const SeedsKey&) const = default;
};
OrderSeeds make_seeds(const SeedsKey& key);
MomentSeeds make_moment_seeds(const SeedsKey& key);
/// `seeds`, `moment_seeds`: the order's and the moments', when they come from seeds.
ScheduleEntry schedule_entry(const ScheduleKey& key, const OrderSeeds* seeds,
                             const MomentSeeds* moment_seeds);

/// Which chunk profiles each kind of stage of a layout uses.
struct ProfilesKey {
  const StageLayout* layout = nullptr;
  const ModelEntry* model = nullptr;
  RecipeSettings settings;
  sim::GradientLifetime gradients = sim::GradientLifetime::kWholeStep;  ///< see ChunkForm
  bool operator==(const ProfilesKey&) const = default;
};
using KindProfiles = std::vector<std::vector<ChunkEntry*>>;  ///< per kind, per chunk

/// One kind of stage's figures for a plan.
struct KindNumbers {
  const StageFacts* facts = nullptr;
  /// The fullest moment of the (interned) moments of its stages' recent schedules: a sweep
  /// over the global batch meets the same moments for every microbatch count past the
  /// stages' in-flight bound.
  sim::LastFew<const StageMoments*, int64_t, 8> fullest;
  std::vector<ChunkNumbers> chunks;
  std::vector<ChunkNumbers> host_chunks;  ///< their activations in host memory
  bool offloads = false;                  ///< whether any chunk's activations go there
  std::vector<ChunkTimes> times;          ///< with ZeRO-3 gather waits
  double after_steps_s = 0.0;             ///< synchronisation and optimizer step
  /// What the stage holds beyond its resident states while the optimizer steps: its
  /// gradients when made on demand, and the step's workspace.
  int64_t optimizer_step = 0;
  sim::Bytes resident;
};

/// A table of values made once per key by `make`, and a few recent lookups in front of it.
template <typename Key, typename Value>
class Table {
 public:
  using Make = std::function<Value(const Key&)>;
  explicit Table(Make make) : make_(std::move(make)) {}
  Value& get(const Key& key) {
    auto [recent, fresh] = recent_.get(key);
    if (!fresh) return **recent;
    auto it = values_.find(key);
    if (it == values_.end()) it = values_.emplace(key, make_(key)).first;
    *recent = &it->second;
    return it->second;
  }

 private:
  Make make_;
  std::unordered_map<Key, Value, sim::DerivedHash> values_;
  /// Sixteen: a sweep over the global batch cycles through a dozen microbatch counts, each
  /// a schedule of its own, and fewer slots than the cycle miss every time.
  sim::LastFew<Key, Value*, 16> recent_;
};

}  // namespace memsim::evaluation::fast
