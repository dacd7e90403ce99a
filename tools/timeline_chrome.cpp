#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/timeline_writers.h"

namespace memsim::tools {

namespace {

constexpr double kMicrosecondsPerSecond = 1e6;

std::string slice_name(const sim::Span& span) {
  switch (span.phase) {
    case sim::Phase::kForward:
      return fmt::format("F{} chunk {}", span.microbatch, span.chunk);
    case sim::Phase::kBackward:
      return fmt::format("B{} chunk {}", span.microbatch, span.chunk);
    case sim::Phase::kRecompute:
      return fmt::format("recompute {}", span.microbatch);
    case sim::Phase::kCommunication:
      return "gradient sync";
    case sim::Phase::kOptimizer:
      return "optimizer step";
    case sim::Phase::kIdle:
      return "idle";
  }
  return "?";
}

class ChromeWriter {
 public:
  explicit ChromeWriter(std::ostream& out) : out_(out) {}

  void event(const std::string& json) {
    out_ << (first_ ? "\n" : ",\n") << json;
    first_ = false;
  }

  /// Counter samples: at each instant, the state with the largest total, so that a peak
  /// reached between an op's allocations and the next op's frees stays visible.
  void counters(int64_t pid, const ProgramTimeline& p) {
    const auto& events = p.timeline.events();
    const Eigen::Index n = p.live.rows();
    Eigen::Index best = -1;
    int64_t best_total = -1;
    for (Eigen::Index i = 0; i < n; ++i) {
      const int64_t total = p.live.row(i).sum();
      if (total > best_total) {
        best = i;
        best_total = total;
      }
      if (i + 1 == n || events[i + 1].t_s != events[i].t_s) {
        std::string args;
        for (sim::Category c : sim::kAllCategories) {
          args += fmt::format("{}\"{}\":{}", args.empty() ? "" : ",", sim::category_name(c),
                              p.live(best, static_cast<Eigen::Index>(c)));
        }
        event(fmt::format(
            R"~({{"name":"memory (bytes)","ph":"C","pid":{},"ts":{:.9g},"args":{{{}}}}})~", pid,
            events[i].t_s * kMicrosecondsPerSecond, args));
        best_total = -1;
      }
    }
  }

 private:
  std::ostream& out_;
  bool first_ = true;
};

}  // namespace

void write_timeline_chrome(const TimelineSet& set, std::ostream& out) {
  out << R"~({"displayTimeUnit":"ms","otherData":{"title":)~" << nlohmann::json(set.title).dump()
      << R"~(},"traceEvents":[)~";
  ChromeWriter writer(out);
  for (const Track& track : set.tracks) {
    const auto& where = track.ranks.front();
    const ProgramTimeline& p = set.programs[track.program];
    const std::string name =
        track.ranks.size() == 1
            ? fmt::format("rank {} (stage {}, tp {}, dp {})", where.rank, where.pp_stage,
                          where.tp_rank, where.dp_rank)
            : fmt::format("ranks {} (stage {}, {} identical)", rank_ranges(track.ranks, "–", ", "),
                          where.pp_stage, track.ranks.size());
    writer.event(
        fmt::format(R"~({{"name":"process_name","ph":"M","pid":{},"args":{{"name":{}}}}})~",
                    where.rank, nlohmann::json(name).dump()));
    writer.event(fmt::format(
        R"~({{"name":"process_sort_index","ph":"M","pid":{},"args":{{"sort_index":{}}}}})~",
        where.rank, where.rank));
    writer.event(fmt::format(
        R"~({{"name":"thread_name","ph":"M","pid":{},"tid":0,"args":{{"name":"steps"}}}})~",
        where.rank));
    for (const sim::Span& span : p.timeline.spans()) {
      writer.event(fmt::format(
          R"~({{"name":"{}","cat":"{}","ph":"X","pid":{},"tid":0,"ts":{:.9g},"dur":{:.9g}}})~",
          slice_name(span), sim::phase_name(span.phase), where.rank,
          span.start_s * kMicrosecondsPerSecond,
          (span.end_s - span.start_s) * kMicrosecondsPerSecond));
    }
    writer.counters(where.rank, p);
  }
  out << "\n]}\n";
}

}  // namespace memsim::tools
