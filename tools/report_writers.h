#pragma once
/// Writers for `memsim run`: each renders a ScenarioOutcome onto a stream.

#include <ostream>

#include <nlohmann/json.hpp>

#include "tools/outcome.h"
#include "tools/terminal.h"
#include "tools/units_format.h"

namespace memsim::tools {

/// How a report for people is laid out.
struct ReportLayout {
  UnitSystem units = UnitSystem::kBinary;
  size_t width = kDefaultWidth;  ///< lines stay within it where they can
  bool wide = false;             ///< every variant side by side, however wide
};

/// Variants side by side (variants as columns), per-rank peaks and a verdict per variant;
/// when the variants side by side are wider than the layout's width (and not `wide`), a
/// row per variant instead, then the breakdown and ranks of the best variant that fits
/// (or of the one closest to fitting).
void write_report_table(const ScenarioOutcome& outcome, const ReportLayout& layout,
                        std::ostream& out);
/// The side-by-side report as Markdown tables.
void write_report_markdown(const ScenarioOutcome& outcome, const ReportLayout& layout,
                           std::ostream& out);
/// One self-contained HTML page (no network, no script): the summary, the verdicts with how
/// to make each variant fit, and each variant's ranks and memory over a step as SVG.
void write_report_html(const ScenarioOutcome& outcome, const ReportLayout& layout,
                       std::ostream& out);
/// SPEC.md's JSON report (integer bytes).
void write_report_json(const ScenarioOutcome& outcome, std::ostream& out);
/// The variants side by side: a row per summary field, a column per variant (integer bytes).
void write_report_csv(const ScenarioOutcome& outcome, std::ostream& out);

/// A variant's summary as the JSON report and the CSV give it: its layout, peak (the
/// fullest rank's, with that rank's breakdown), fit, headroom, timing and host memory.
nlohmann::ordered_json variant_summary(const VariantOutcome& v);

}  // namespace memsim::tools
