#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "tools/text_table.h"
#include "tools/timeline_writers.h"

namespace memsim::tools {

namespace {

constexpr double kWidth = 1100;
constexpr double kLeft = 80;
constexpr double kRight = 300;
constexpr double kTitleLine = 20;    // a title line's height
constexpr size_t kTitleChars = 110;  // of a 16-pixel bold title across the width
constexpr double kPlotTop = 24;      // below the title's lines
constexpr double kPlotHeight = 450;
constexpr double kBottom = 60;
constexpr double kPlotWidth = kWidth - kLeft - kRight;
constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

/// A round step giving about `count` ticks over [0, span].
double tick_step(double span, int count) {
  const double raw = span / count;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * magnitude) return m * magnitude;
  }
  return 10.0 * magnitude;
}

/// The plot's frame: scales, the wrapped title, axes, grid and the limits drawn on top.
class Frame {
 public:
  Frame(const TimelineSet& set, std::ostream& out)
      : set_(set), out_(out), unit_(set.units == UnitSystem::kSi ? 1e9 : 1073741824.0) {
    bytes_max_ = static_cast<double>(set.capacity.value());
    for (const ProgramTimeline& p : set.programs) {
      t_max_ = std::max(t_max_, p.result.step_time_s);
      bytes_max_ = std::max(bytes_max_, static_cast<double>(p.result.peak.value()));
    }
    t_max_ = std::max(t_max_, 1e-9);
    bytes_max_ *= 1.08;
    title_ = wrap_words(set.title, kTitleChars);
    top_ = kPlotTop + kTitleLine * static_cast<double>(title_.size());
  }

  double x(double t) const { return kLeft + kPlotWidth * t / t_max_; }
  double y(double bytes) const { return top_ + kPlotHeight * (1.0 - bytes / bytes_max_); }
  double top() const { return top_; }
  double t_max() const { return t_max_; }
  double in_unit(double bytes) const { return bytes / unit_; }
  std::string unit() const { return unit_name(set_.units); }

  void open() {
    const double height = top_ + kPlotHeight + kBottom;
    out_ << fmt::format(
        R"~(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" font-family="sans-serif" font-size="12">)~"
        "\n<rect width=\"{}\" height=\"{}\" fill=\"white\"/>\n",
        kWidth, height, kWidth, height, kWidth, height);
    for (size_t i = 0; i < title_.size(); ++i) {
      out_ << fmt::format(R"~(<text x="{}" y="{}" font-size="16" font-weight="bold">{}</text>)~"
                          "\n",
                          kLeft, 28 + kTitleLine * static_cast<double>(i), html_escape(title_[i]));
    }
    axes();
  }

  /// The capacity (and below it what a serving engine may use), over everything drawn: the
  /// labels on a white ground so that no curve hides them.
  void close() {
    limit(set_.capacity, "capacity", "6,4");
    if (set_.usable < set_.capacity) limit(set_.usable, "usable when serving", "2,3");
    out_ << "</svg>\n";
  }

 private:
  void axes() {
    const double y_step = tick_step(in_unit(bytes_max_), 8);
    for (double g = 0.0; g * unit_ <= bytes_max_; g += y_step) {
      const double py = y(g * unit_);
      out_ << fmt::format(R"~(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#e0e0e0"/>)~"
                          "\n"
                          R"~(<text x="{}" y="{:.1f}" text-anchor="end">{:g}</text>)~"
                          "\n",
                          kLeft, py, kLeft + kPlotWidth, py, kLeft - 6, py + 4, g);
    }
    const double x_step = tick_step(t_max_, 8);
    for (double t = 0.0; t <= t_max_ * 1.0001; t += x_step) {
      out_ << fmt::format(R"~(<line x1="{:.1f}" y1="{}" x2="{:.1f}" y2="{}" stroke="#e0e0e0"/>)~"
                          "\n"
                          R"~(<text x="{:.1f}" y="{}" text-anchor="middle">{:g}</text>)~"
                          "\n",
                          x(t), top_, x(t), top_ + kPlotHeight, x(t), top_ + kPlotHeight + 18, t);
    }
    out_ << fmt::format(
        R"~(<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="black"/>)~"
        "\n"
        R"~(<text x="{}" y="{}" text-anchor="middle">time in the step (s)</text>)~"
        "\n"
        R"~(<text x="20" y="{}" text-anchor="middle" transform="rotate(-90 20 {})">live memory per GPU ({})</text>)~"
        "\n",
        kLeft, top_, kPlotWidth, kPlotHeight, kLeft + kPlotWidth / 2, top_ + kPlotHeight + 42,
        top_ + kPlotHeight / 2, top_ + kPlotHeight / 2, unit());
  }

  void limit(sim::Bytes bytes, const std::string& label, const char* dash) {
    const double py = y(static_cast<double>(bytes.value()));
    const std::string text =
        fmt::format("{} {:.1f} {}", label, in_unit(static_cast<double>(bytes.value())), unit());
    const double width = 7.0 * static_cast<double>(text.size());
    out_ << fmt::format(
        R"~(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#d62728" stroke-width="1.5" stroke-dasharray="{}"/>)~"
        "\n"
        R"~(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="16" fill="white" fill-opacity="0.85"/>)~"
        "\n"
        R"~(<text x="{}" y="{:.1f}" fill="#d62728" text-anchor="end">{}</text>)~"
        "\n",
        kLeft, py, kLeft + kPlotWidth, py, dash, kLeft + kPlotWidth - 8 - width, py - 17, width + 6,
        kLeft + kPlotWidth - 4, py - 5, text);
  }

  const TimelineSet& set_;
  std::ostream& out_;
  double unit_;
  double t_max_ = 0.0;
  double bytes_max_ = 0.0;
  std::vector<std::string> title_;
  double top_ = kPlotTop;
};

/// The rows to draw for each pixel column of `frame`: its first, fullest, emptiest and last
/// (the envelope, and every peak, survive).
template <typename Visit>
void each_column(const Frame& frame, const ProgramTimeline& p, Visit visit) {
  const auto& events = p.timeline.events();
  const Eigen::VectorX<int64_t> total = p.live.rowwise().sum();
  for (Eigen::Index i = 0; i < total.size();) {
    const int column = static_cast<int>(frame.x(events[i].t_s));
    Eigen::Index high = i;
    Eigen::Index low = i;
    Eigen::Index j = i;
    while (j < total.size() && static_cast<int>(frame.x(events[j].t_s)) == column) {
      if (total(j) > total(high)) high = j;
      if (total(j) < total(low)) low = j;
      ++j;
    }
    visit(column, std::vector<Eigen::Index>{i, high, low, j - 1});
    i = j;
  }
}

/// The ranks that walk program `g`, in order.
std::vector<evaluation::RankPlacement> ranks_of(const TimelineSet& set, size_t g) {
  std::vector<evaluation::RankPlacement> ranks;
  for (const Track& track : set.tracks) {
    if (track.program == g) ranks.insert(ranks.end(), track.ranks.begin(), track.ranks.end());
  }
  std::sort(ranks.begin(), ranks.end(),
            [](const auto& a, const auto& b) { return a.rank < b.rank; });
  return ranks;
}

void legend_entry(std::ostream& out, size_t row, const char* color, const std::string& first,
                  const std::string& second) {
  const double ly = 64 + 36.0 * static_cast<double>(row);
  const double lx = kLeft + kPlotWidth + 16;
  out << fmt::format(R"~(<rect x="{}" y="{}" width="18" height="10" fill="{}"/>)~"
                     "\n"
                     R"~(<text x="{}" y="{}">{}</text>)~"
                     "\n",
                     lx, ly - 6, color, lx + 24, ly + 4, html_escape(first));
  if (!second.empty()) {
    out << fmt::format(R"~(<text x="{}" y="{}" fill="#555">{}</text>)~"
                       "\n",
                       lx + 24, ly + 19, html_escape(second));
  }
}

/// One curve of live memory per distinct timeline, its peak marked, a legend of its ranks.
void draw_lines(const TimelineSet& set, const Frame& frame, std::ostream& out) {
  for (size_t g = 0; g < set.programs.size(); ++g) {
    const ProgramTimeline& p = set.programs[g];
    const char* color = kColors[g % std::size(kColors)];
    const Eigen::VectorX<int64_t> total = p.live.rowwise().sum();
    std::string points;
    double last = 0.0;
    each_column(frame, p, [&](int column, const std::vector<Eigen::Index>& rows) {
      points += fmt::format("{},{:.1f} ", column, frame.y(last));
      for (Eigen::Index r : rows)
        points += fmt::format("{},{:.1f} ", column, frame.y(static_cast<double>(total(r))));
      last = static_cast<double>(total(rows.back()));
    });
    points += fmt::format("{:.1f},{:.1f}", frame.x(frame.t_max()), frame.y(last));
    out << fmt::format(R"~(<polyline fill="none" stroke="{}" stroke-width="1.2" points="{}"/>)~"
                       "\n"
                       R"~(<circle cx="{:.1f}" cy="{:.1f}" r="4" fill="{}"/>)~"
                       "\n",
                       color, points, frame.x(p.result.peak_moment.t_s),
                       frame.y(static_cast<double>(p.result.peak.value())), color);
    const auto ranks = ranks_of(set, g);
    legend_entry(
        out, g, color,
        fmt::format("stage {}: peak {:.1f} {}", p.pp_stage,
                    frame.in_unit(static_cast<double>(p.result.peak.value())), frame.unit()),
        fmt::format("ranks {} ({} identical)", rank_ranges(ranks, "–", ", "), ranks.size()));
  }
}

/// The fullest class's memory stacked by category: an area a category, weights at the bottom.
void draw_stacked(const TimelineSet& set, const Frame& frame, std::ostream& out) {
  size_t fullest = 0;
  for (size_t g = 1; g < set.programs.size(); ++g) {
    if (set.programs[g].result.peak > set.programs[fullest].result.peak) fullest = g;
  }
  const ProgramTimeline& p = set.programs[fullest];
  // For each pixel column, the fullest moment's categories (the peak stays whole).
  std::vector<std::pair<int, Eigen::Index>> samples;
  each_column(frame, p, [&](int column, const std::vector<Eigen::Index>& rows) {
    samples.emplace_back(column, rows[1]);
  });
  std::vector<double> below(samples.size(), 0.0);
  size_t row = 0;
  for (sim::Category c : sim::kAllCategories) {
    if (p.result.max_by_category[c].value() == 0) continue;
    std::string upper;
    std::string lower;
    for (size_t s = 0; s < samples.size(); ++s) {
      const double bottom = below[s];
      below[s] += static_cast<double>(p.live(samples[s].second, static_cast<Eigen::Index>(c)));
      upper += fmt::format("{},{:.1f} ", samples[s].first, frame.y(below[s]));
      lower = fmt::format("{},{:.1f} ", samples[s].first, frame.y(bottom)) + lower;
    }
    const char* color = kColors[row % std::size(kColors)];
    out << fmt::format(R"~(<polygon fill="{}" fill-opacity="0.8" stroke="none" points="{}{}"/>)~"
                       "\n",
                       color, upper, lower);
    legend_entry(
        out, row++, color,
        fmt::format("{}: at most {:.1f} {}", sim::category_name(c),
                    frame.in_unit(static_cast<double>(p.result.max_by_category[c].value())),
                    frame.unit()),
        "");
  }
  const auto ranks = ranks_of(set, fullest);
  out << fmt::format(
      R"~(<text x="{}" y="{}" fill="#555">stage {}, ranks {}: peak {:.1f} {}</text>)~"
      "\n",
      kLeft + kPlotWidth + 16, 64 + 36.0 * static_cast<double>(row) + 4, p.pp_stage,
      html_escape(rank_ranges(ranks, "–", ", ")),
      frame.in_unit(static_cast<double>(p.result.peak.value())), frame.unit());
}

}  // namespace

void write_timeline_svg(const TimelineSet& set, std::ostream& out) {
  Frame frame(set, out);
  frame.open();
  if (set.style == TimelineStyle::kStacked) {
    draw_stacked(set, frame, out);
  } else {
    draw_lines(set, frame, out);
  }
  frame.close();
}

}  // namespace memsim::tools
