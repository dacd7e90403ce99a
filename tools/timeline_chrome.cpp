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
    case sim::Phase::kBackward: {
      // PyTorch's schedule letters: B a whole backward, I its input step, W its weight step.
      const char letter = span.step == sim::StepKind::kBackwardInput    ? 'I'
                          : span.step == sim::StepKind::kBackwardWeight ? 'W'
                                                                        : 'B';
      return fmt::format("{}{} chunk {}", letter, span.microbatch, span.chunk);
    }
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

  /// Counter samples: at each instant (or, coarser, each bucket of the resolution) the state
  /// with the largest total, so that a peak reached between an op's allocations and the next
  /// op's frees stays visible; a coarse bucket adds its end.
  void counters(int64_t pid, const ProgramTimeline& p, const Resolution& resolution) {
    const auto& events = p.timeline.events();
    const Eigen::VectorX<int64_t> total = p.live.rowwise().sum();
    for (const auto& [begin, end] : timeline_buckets(events, resolution)) {
      Eigen::Index fullest = static_cast<Eigen::Index>(begin);
      for (size_t i = begin; i < end; ++i) {
        if (total(static_cast<Eigen::Index>(i)) > total(fullest)) {
          fullest = static_cast<Eigen::Index>(i);
        }
      }
      const auto last = static_cast<Eigen::Index>(end - 1);
      const bool coarse = resolution.kind != Resolution::Kind::kEvent;
      sample(pid, coarse ? events[fullest].t_s : events[last].t_s, p.live.row(fullest));
      if (coarse && last != fullest) sample(pid, events[last].t_s, p.live.row(last));
    }
  }

 private:
  template <typename Row>
  void sample(int64_t pid, double t_s, const Row& live) {
    std::string args;
    for (sim::Category c : sim::kAllCategories) {
      args += fmt::format("{}\"{}\":{}", args.empty() ? "" : ",", sim::category_name(c),
                          live(static_cast<Eigen::Index>(c)));
    }
    event(
        fmt::format(R"~({{"name":"memory (bytes)","ph":"C","pid":{},"ts":{:.9g},"args":{{{}}}}})~",
                    pid, t_s * kMicrosecondsPerSecond, args));
  }

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
    writer.counters(where.rank, p, set.resolution);
  }
  out << "\n]}\n";
}

}  // namespace memsim::tools
