#pragma once
/// Writers for `memsim timeline`: memory over one training step (or one inference request),
/// as CSV, a Chrome trace (Perfetto JSON) or an SVG plot. Ranks that walk the same program
/// share one simulated timeline, and by default one track: a class of identical ranks.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "evaluation/compiled_inference.h"
#include "evaluation/compiled_plan.h"
#include "sim/simulator.h"
#include "sim/timeline.h"
#include "tools/progress.h"
#include "tools/timeline_rows.h"
#include "tools/units_format.h"

namespace memsim::tools {

/// One simulated program: its events and spans, live bytes per category after each event,
/// and its result.
struct ProgramTimeline {
  sim::Timeline timeline;
  sim::LiveMatrix live;
  sim::RankResult result;
  int64_t pp_stage = 0;
};

/// What a timeline writes once: one rank, or a class of ranks whose timelines are identical.
struct Track {
  size_t program = 0;                            ///< index into TimelineSet::programs
  std::vector<evaluation::RankPlacement> ranks;  ///< in rank order; the first names the track
};

/// How the SVG plot draws memory.
enum class TimelineStyle {
  kLines,    ///< a curve of live memory per class of identical ranks
  kStacked,  ///< the fullest class's memory as areas stacked by category
};

struct TimelineSet {
  std::string title;
  sim::Bytes capacity;
  sim::Bytes usable;  ///< what a rank's peak must stay under (inference: a share of capacity)
  UnitSystem units = UnitSystem::kBinary;       ///< of the sizes the SVG plot prints
  TimelineStyle style = TimelineStyle::kLines;  ///< of the SVG plot
  Resolution resolution;  ///< of the CSV's rows and the Chrome trace's counters
  std::vector<ProgramTimeline> programs;
  std::vector<Track> tracks;  ///< in the order of their first ranks
};

/// Which tracks a timeline holds.
enum class TrackPerRank { kClass, kRank };

/// Simulates the programs of `ranks` (each distinct one once), with a track per rank or per
/// class of identical ranks; `progress` (when given) counts the ranks done.
TimelineSet build_timelines(const evaluation::CompiledPlan& compiled,
                            const std::vector<int64_t>& ranks, std::string title,
                            TrackPerRank tracks = TrackPerRank::kRank,
                            Progress* progress = nullptr);
/// The most decode steps an inference timeline walks: above, every k-th (the last
/// included), each allocating the cache of the steps it stands for.
inline constexpr int64_t kTimelineDecodeSteps = 256;

/// The same for inference: the prefill, then the decode steps (each pass's events carry its
/// index in the microbatch column).
TimelineSet build_timelines(const evaluation::CompiledInference& compiled,
                            const std::vector<int64_t>& ranks, std::string title,
                            TrackPerRank tracks = TrackPerRank::kRank,
                            Progress* progress = nullptr);

/// A scenario's plan's timelines: training or serving, as its mode says.
TimelineSet build_timelines(const strategies::Plan& plan, const std::vector<int64_t>& ranks,
                            std::string title, TrackPerRank tracks = TrackPerRank::kRank,
                            Progress* progress = nullptr);

/// Sorted ranks as ranges: "0-7 64-71" (`range` "-", `separator` " "), "0–7, 64–71".
std::string rank_ranges(const std::vector<evaluation::RankPlacement>& ranks,
                        const std::string& range, const std::string& separator);

/// SPEC.md's timeline CSV: rank,t_s,phase,microbatch,layer,category,delta_bytes,live_bytes,
/// then `ranks` (the track's ranks, "0-7 64-71"; `rank` is the first), tracks interleaved in
/// time order (ties: lower rank first, then event order).
void write_timeline_csv(const TimelineSet& set, std::ostream& out);

/// Chrome trace event format, which Perfetto and chrome://tracing open: one process per
/// track, a counter track of live bytes per category (at each instant its fullest state),
/// and duration slices for every forward, backward, recompute, communication, optimizer
/// and idle span.
void write_timeline_chrome(const TimelineSet& set, std::ostream& out);

/// A plot of live memory over the step, with the GPU's capacity on top of it: a curve per
/// class of identical ranks with its peak marked (the legend says which ranks and how many),
/// or the fullest class stacked by category.
void write_timeline_svg(const TimelineSet& set, std::ostream& out);

}  // namespace memsim::tools
