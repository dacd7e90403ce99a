#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "tools/timeline_writers.h"

namespace memsim::tools {

namespace {

constexpr double kWidth = 1100;
constexpr double kHeight = 560;
constexpr double kLeft = 80;
constexpr double kRight = 300;
constexpr double kTop = 50;
constexpr double kBottom = 60;
constexpr double kPlotWidth = kWidth - kLeft - kRight;
constexpr double kPlotHeight = kHeight - kTop - kBottom;
constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// A round step giving about `count` ticks over [0, span].
double tick_step(double span, int count) {
  const double raw = span / count;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * magnitude) return m * magnitude;
  }
  return 10.0 * magnitude;
}

class Plot {
 public:
  Plot(double t_max, double bytes_max) : t_max_(t_max), bytes_max_(bytes_max) {}
  double x(double t) const { return kLeft + kPlotWidth * t / t_max_; }
  double y(double bytes) const { return kTop + kPlotHeight * (1.0 - bytes / bytes_max_); }

  /// The curve of live bytes, reduced to each pixel column's first, largest, smallest and
  /// last values so that its envelope (and its peak) survive.
  std::string polyline(const ProgramTimeline& p) const {
    const auto& events = p.timeline.events();
    const Eigen::VectorX<int64_t> total = p.live.rowwise().sum();
    std::string points;
    auto add = [&](double px, double bytes) {
      points += fmt::format("{:.1f},{:.1f} ", px, y(bytes));
    };
    double last = 0.0;
    for (Eigen::Index i = 0; i < total.size();) {
      const int column = static_cast<int>(x(events[i].t_s));
      const auto first = static_cast<double>(total(i));
      double high = first;
      double low = first;
      Eigen::Index j = i;
      while (j < total.size() && static_cast<int>(x(events[j].t_s)) == column) {
        high = std::max(high, static_cast<double>(total(j)));
        low = std::min(low, static_cast<double>(total(j)));
        ++j;
      }
      const double end = static_cast<double>(total(j - 1));
      add(column, last);
      add(column, first);
      add(column, high);
      add(column, low);
      add(column, end);
      last = end;
      i = j;
    }
    add(x(t_max_), last);
    return points;
  }

 private:
  double t_max_;
  double bytes_max_;
};

}  // namespace

void write_timeline_svg(const TimelineSet& set, std::ostream& out) {
  double t_max = 0.0;
  double bytes_max = static_cast<double>(set.capacity.value());
  for (const ProgramTimeline& p : set.programs) {
    t_max = std::max(t_max, p.result.step_time_s);
    bytes_max = std::max(bytes_max, static_cast<double>(p.result.peak.value()));
  }
  t_max = std::max(t_max, 1e-9);
  bytes_max *= 1.08;
  const Plot plot(t_max, bytes_max);
  // Sizes in the chosen unit: GiB (2^30) or GB (10^9).
  const double kGiB = set.units == UnitSystem::kSi ? 1e9 : 1024.0 * 1024.0 * 1024.0;
  const std::string unit = unit_name(set.units);

  out << fmt::format(
      R"~(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" font-family="sans-serif" font-size="12">)~"
      "\n",
      kWidth, kHeight, kWidth, kHeight);
  out << fmt::format(R"~(<rect width="{}" height="{}" fill="white"/>)~"
                     "\n",
                     kWidth, kHeight);
  out << fmt::format(R"~(<text x="{}" y="28" font-size="16" font-weight="bold">{}</text>)~"
                     "\n",
                     kLeft, escape(set.title));

  // Axes and grid.
  const double y_step = tick_step(bytes_max / kGiB, 8);
  for (double g = 0.0; g * kGiB <= bytes_max; g += y_step) {
    const double py = plot.y(g * kGiB);
    out << fmt::format(R"~(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#e0e0e0"/>)~"
                       "\n",
                       kLeft, py, kLeft + kPlotWidth, py);
    out << fmt::format(R"~(<text x="{}" y="{:.1f}" text-anchor="end">{:g}</text>)~"
                       "\n",
                       kLeft - 6, py + 4, g);
  }
  const double x_step = tick_step(t_max, 8);
  for (double t = 0.0; t <= t_max * 1.0001; t += x_step) {
    const double px = plot.x(t);
    out << fmt::format(R"~(<line x1="{:.1f}" y1="{}" x2="{:.1f}" y2="{}" stroke="#e0e0e0"/>)~"
                       "\n",
                       px, kTop, px, kTop + kPlotHeight);
    out << fmt::format(R"~(<text x="{:.1f}" y="{}" text-anchor="middle">{:g}</text>)~"
                       "\n",
                       px, kTop + kPlotHeight + 18, t);
  }
  out << fmt::format(R"~(<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="black"/>)~"
                     "\n",
                     kLeft, kTop, kPlotWidth, kPlotHeight);
  out << fmt::format(R"~(<text x="{}" y="{}" text-anchor="middle">time in the step (s)</text>)~"
                     "\n",
                     kLeft + kPlotWidth / 2, kHeight - 18);
  out << fmt::format(
      R"~(<text x="20" y="{}" text-anchor="middle" transform="rotate(-90 20 {})">live memory per GPU ({})</text>)~"
      "\n",
      kTop + kPlotHeight / 2, kTop + kPlotHeight / 2, unit);

  // Capacity, and below it the share a serving engine may use.
  const auto limit_line = [&](sim::Bytes bytes, const char* label, const char* dash) {
    const double y = plot.y(static_cast<double>(bytes.value()));
    out << fmt::format(
        R"~(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#d62728" stroke-width="1.5" stroke-dasharray="{}"/>)~"
        "\n",
        kLeft, y, kLeft + kPlotWidth, y, dash);
    out << fmt::format(
        R"~(<text x="{}" y="{:.1f}" fill="#d62728" text-anchor="end">{} {:.1f} {}</text>)~"
        "\n",
        kLeft + kPlotWidth - 4, y - 5, label, static_cast<double>(bytes.value()) / kGiB, unit);
  };
  limit_line(set.capacity, "capacity", "6,4");
  if (set.usable < set.capacity) limit_line(set.usable, "usable when serving", "2,3");

  // One curve per distinct timeline, its peak marked, and a legend of its ranks.
  for (size_t g = 0; g < set.programs.size(); ++g) {
    const ProgramTimeline& p = set.programs[g];
    const char* color = kColors[g % std::size(kColors)];
    std::vector<strategies::RankPlacement> ranks;
    for (const Track& track : set.tracks) {
      if (track.program == g) ranks.insert(ranks.end(), track.ranks.begin(), track.ranks.end());
    }
    std::sort(ranks.begin(), ranks.end(),
              [](const auto& a, const auto& b) { return a.rank < b.rank; });
    out << fmt::format(R"~(<polyline fill="none" stroke="{}" stroke-width="1.2" points="{}"/>)~"
                       "\n",
                       color, plot.polyline(p));
    const double px = plot.x(p.result.peak_moment.t_s);
    const double py = plot.y(static_cast<double>(p.result.peak.value()));
    out << fmt::format(R"~(<circle cx="{:.1f}" cy="{:.1f}" r="4" fill="{}"/>)~"
                       "\n",
                       px, py, color);
    const double ly = kTop + 14 + 36.0 * static_cast<double>(g);
    const double lx = kLeft + kPlotWidth + 16;
    out << fmt::format(R"~(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="3"/>)~"
                       "\n",
                       lx, ly, lx + 18, ly, color);
    out << fmt::format(R"~(<text x="{}" y="{}">stage {}: peak {:.1f} {}</text>)~"
                       "\n",
                       lx + 24, ly + 4, p.pp_stage,
                       static_cast<double>(p.result.peak.value()) / kGiB, unit);
    out << fmt::format(R"~(<text x="{}" y="{}" fill="#555">ranks {} ({} identical)</text>)~"
                       "\n",
                       lx + 24, ly + 19, escape(rank_ranges(ranks, "–", ", ")), ranks.size());
  }
  out << "</svg>\n";
}

}  // namespace memsim::tools
