#include <sstream>

#include <fmt/format.h>

#include "evaluation/compiled_plan.h"
#include "tools/report_parts.h"
#include "tools/report_writers.h"
#include "tools/timeline_writers.h"

namespace memsim::tools {

namespace {

// Inline, so that the file stands alone: no network, no script.
constexpr const char* kStyle = R"(
body { font-family: sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; } h3 { font-size: 1em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; vertical-align: top; }
th { background: #f4f4f4; }
.number { text-align: right; white-space: nowrap; }
code { background: #f4f4f4; padding: 0.1em 0.3em; }
.fits { color: #2a7a2a; } .fails { color: #b22; }
svg { max-width: 100%; height: auto; }
)";

/// Every rank class's memory over the variant's step, as `memsim timeline --format svg`.
std::string timeline_svg(const VariantOutcome& v, UnitSystem units) {
  const strategies::Plan& plan = v.variant->plan;
  std::vector<int64_t> ranks(static_cast<size_t>(plan.cluster.world_size()));
  for (size_t r = 0; r < ranks.size(); ++r)
    ranks[r] = static_cast<int64_t>(r);
  const std::string title =
      fmt::format("{} ({} × {})", v.variant->name, ranks.size(), plan.cluster.gpu->name);
  TimelineSet set = build_timelines(plan, ranks, title, TrackPerRank::kClass);
  set.units = units;
  std::ostringstream svg;
  write_timeline_svg(set, svg);
  return svg.str();
}

void write_verdicts(const ScenarioOutcome& outcome, UnitSystem units, std::ostream& out) {
  out << "<h2>Verdicts</h2>\n<ul>\n";
  for (const VariantOutcome& v : outcome.variants) {
    out << fmt::format("<li class=\"{}\">{}", v.report.fits ? "fits" : "fails",
                       html_escape(verdict(v, units)));
    if (!v.suggestions.empty()) {
      out << "<br>To fit, the smallest changes, fastest first:\n<ul>\n";
      for (const Suggestion& s : v.suggestions) {
        out << fmt::format("<li>{}: <code>{}</code></li>\n",
                           html_escape(suggestion_gain(s, v, units)), html_escape(s.set_flags()));
      }
      out << "</ul>\n";
    }
    out << "</li>\n";
  }
  out << "</ul>\n";
  if (outcome.variants.size() > 1) out << "<p>" << html_escape(summary_line(outcome)) << "</p>\n";
}

}  // namespace

void write_report_html(const ScenarioOutcome& outcome, const ReportLayout& layout,
                       std::ostream& out) {
  const scenarios::Scenario& s = *outcome.scenario;
  out << fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n"
      "<style>{}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p>{}</p>\n",
      html_escape(s.name), kStyle, html_escape(s.name), html_escape(s.path));
  out << "<h2>Summary</h2>\n<div class=\"scroll\">\n";
  summary_table(outcome, layout.units).render_html(out);
  out << "</div>\n";
  write_verdicts(outcome, layout.units, out);
  out << "<h2>Memory over a step</h2>\n";
  for (const VariantOutcome& v : outcome.variants) {
    out << "<h3>" << html_escape(v.variant->name) << "</h3>\n<div class=\"scroll\">\n";
    ranks_table(v, layout.units).render_html(out);
    out << "</div>\n" << timeline_svg(v, layout.units);
  }
  out << "</body>\n</html>\n";
}

}  // namespace memsim::tools
