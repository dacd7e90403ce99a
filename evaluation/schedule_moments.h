#pragma once
/// Where in a stage's schedule it may be fullest. Between steps a stage holds the saved
/// activations of the microbatches in flight of each of its chunks, what those awaiting
/// their weight step keep and, when gradients are made on demand, the gradients of the
/// chunks whose weight gradients have been made; a step then adds its pass's fullest
/// prefix. Of the moments before each step only those that no other moment dominates (at
/// least as many in flight and awaiting of every chunk, the same step) can be fullest,
/// whatever the sizes, so a schedule of thousands of steps comes down to a few moments,
/// derived once per (schedule, p, v, m, stage).

#include <cstdint>
#include <optional>
#include <vector>

#include "sim/rank_program.h"
#include "strategies/pipeline.h"
#include "strategies/schedules.h"

namespace memsim::evaluation {

using namespace strategies;  // the plan and the strategies' terms

/// A moment of a stage's schedule where it may be fullest: before a step, with some
/// microbatches of each chunk in flight and some chunks' gradients made.
struct Moment {
  sim::StepKind kind;
  int32_t chunk;
  bool first_backward;
  std::vector<int64_t> in_flight;       ///< per local chunk
  std::vector<int64_t> gradients_made;  ///< per local chunk, 0 or 1: its backward has run
  /// Per local chunk: input step run, weight step not; empty if the schedule takes no input
  /// step.
  std::vector<int64_t> awaiting;
  bool operator==(const Moment&) const = default;
};

/// Adds `m` to `moments` unless one of them dominates it; drops those it dominates, and the
/// last moment of the same step if it lies between the one before it and `m`.
void add_undominated(std::vector<Moment>& moments, const Moment& m);

/// The undominated moments of a stage running `steps` over `chunks` local chunks.
std::vector<Moment> moments_of(const std::vector<sim::ScheduledStep>& steps, int64_t chunks);

/// The undominated moments of every stage of `schedule`. A long schedule's are those of
/// shorter ones when the moments of m₀, m₀ + g and m₀ + 2g microbatches (g: see
/// microbatch_group) are the same: its steady groups only repeat states already seen.
std::vector<std::vector<Moment>> every_stage_moments(const ScheduleInfo& schedule, int64_t stages,
                                                     int64_t chunks, int64_t microbatches);

/// What every long schedule of a family (microbatch counts a whole number of groups apart)
/// takes its moments from: the short ones' when they agree. A sweep makes them once.
struct MomentSeeds {
  int64_t from = 0;  ///< the fewest microbatches that take them
  std::optional<std::vector<std::vector<Moment>>> moments;
};
/// Whether every_stage_moments takes `microbatches`' moments from seeds.
bool moments_from_seeds(const ScheduleInfo& schedule, int64_t stages, int64_t microbatches);
/// The seeds of `microbatches`' family (its count modulo the group picks it).
MomentSeeds moment_seeds(const ScheduleInfo& schedule, int64_t stages, int64_t chunks,
                         int64_t microbatches);
/// every_stage_moments, from the seeds of `microbatches`' family.
std::vector<std::vector<Moment>> every_stage_moments(const MomentSeeds& seeds,
                                                     const ScheduleInfo& schedule, int64_t stages,
                                                     int64_t chunks, int64_t microbatches);

/// Which peak of a chunk a moment's step reaches.
enum PassKind : int32_t {
  kForwardPass,
  kBackwardPass,
  kFirstBackwardPass,
  kInputPass,
  kWeightPass,
  kFirstWeightPass,
};
inline constexpr int kPassKinds = 6;

/// A stage's undominated moments, flattened: per moment the chunk, the pass, then the
/// in-flight counts, the gradients-made flags and (for a schedule that splits backwards) the
/// awaiting counts of each class of its chunks. Chunks of one
/// shape hold the same (same profile, same stage), so moments may count them together: a
/// class stands for its chunks, `chunks[j]` being one of them.
struct StageMoments {
  std::vector<int32_t> data;
  int64_t count = 0;
  bool awaiting = false;  ///< whether the moments count those awaiting their weight step
  std::vector<int32_t> chunks;  ///< per class, a chunk of it
  bool operator==(const StageMoments&) const = default;
};

/// `moments` with the chunks of each class of `shapes` (canonical: equal shapes are alike
/// chunks) counted together;
/// `representatives` receives a chunk of each class.
std::vector<Moment> by_class(const std::vector<Moment>& moments,
                             const std::vector<ChunkShape>& shapes,
                             std::vector<int32_t>& representatives);

/// `moments` flattened, `chunks` being the chunk each class stands for.
StageMoments flatten(const std::vector<Moment>& moments, std::vector<int32_t> chunks);

/// One chunk's figures for a configuration.
struct ChunkNumbers {
  int64_t saved = 0;
  int64_t gradients = 0;  ///< parameter gradients its first backward leaves behind
  int64_t awaiting = 0;   ///< what a microbatch keeps from its input step to its weight step
  int64_t peaks[kPassKinds] = {};  ///< by PassKind
};

/// The most a stage holds above its resident state at any of `moments`.
int64_t fullest_moment(const StageMoments& moments, const std::vector<ChunkNumbers>& chunks);

}  // namespace memsim::evaluation
