#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "tools/report_parts.h"
#include "tools/report_writers.h"
#include "tools/text_table.h"

namespace memsim::tools {

namespace {

/// `text` (its own leading spaces kept) within `width`, later lines after `indent`.
void write_wrapped(const std::string& text, size_t width, const std::string& indent,
                   std::ostream& out) {
  const std::string lead(std::min(text.find_first_not_of(' '), text.size()), ' ');
  const size_t room = width - std::max(lead.size(), indent.size());
  const std::vector<std::string> lines = wrap_words(text.substr(lead.size()), room);
  for (size_t i = 0; i < lines.size(); ++i)
    out << (i > 0 ? indent : lead) << lines[i] << '\n';
}

/// "peak 61.20 GiB, step +31.0%: --set checkpointing=full", the flags on lines that paste.
void write_suggestion(const Suggestion& s, const VariantOutcome& v, const ReportLayout& layout,
                      bool markdown, std::ostream& out) {
  const double change = 100.0 * (s.step_time_s / v.report.step_time_s - 1.0);
  const std::string gain =
      fmt::format("peak {}, step {:+.1f}%", format_bytes(s.peak, layout.units), change);
  if (markdown) {
    out << "    - " << gain << ": `" << s.set_flags() << "`\n";
    return;
  }
  out << "    " << gain << ":\n";
  for (const std::string& line : s.set_flag_lines(layout.width - 6, "    "))
    out << "      " << line << '\n';
}

void write_verdicts(const ScenarioOutcome& outcome, const ReportLayout& layout, bool markdown,
                    std::ostream& out) {
  out << '\n';
  const size_t width = markdown ? std::numeric_limits<size_t>::max() : layout.width;
  for (const VariantOutcome& v : outcome.variants) {
    write_wrapped((markdown ? "- " : "") + verdict(v, layout.units), width, "  ", out);
    if (v.suggestions.empty()) continue;
    write_wrapped(markdown ? "  - to fit, the smallest changes, fastest first:"
                           : "  to fit, the smallest changes, fastest first:",
                  width, "", out);
    for (const Suggestion& s : v.suggestions)
      write_suggestion(s, v, layout, markdown, out);
  }
  if (outcome.variants.size() > 1) {
    out << '\n';
    write_wrapped(summary_line(outcome), width, "", out);
  }
}

void write_ranks(const VariantOutcome& v, const ReportLayout& layout, bool markdown,
                 std::ostream& out) {
  out << '\n'
      << (markdown ? "#### " : "") << "Ranks of " << v.variant->name << ":\n"
      << (markdown ? "\n" : "");
  const TextTable table = ranks_table(v, layout.units);
  if (markdown) {
    table.render_markdown(out);
  } else {
    table.render_text(out, layout.width);
  }
}

void write(const ScenarioOutcome& outcome, const ReportLayout& layout, std::ostream& out,
           bool markdown) {
  const scenarios::Scenario& s = *outcome.scenario;
  out << (markdown ? "### " : "") << s.name << (markdown ? "\n\n" : "\n") << "(" << s.path
      << ")\n\n";
  const TextTable side_by_side = summary_table(outcome, layout.units);
  if (markdown) {
    side_by_side.render_markdown(out);
  } else if (layout.wide || side_by_side.natural_width() <= layout.width) {
    side_by_side.render_text(out, layout.wide ? std::numeric_limits<size_t>::max() : layout.width);
  } else {
    compact_table(outcome, layout.units).render_text(out, layout.width);
    const VariantOutcome& shown = featured(outcome);
    out << fmt::format(
        "\n{} of {} ({}):\n", "Breakdown", shown.variant->name,
        shown.report.fits ? "the fastest variant that fits" : "no variant fits; the closest");
    ScenarioOutcome one{outcome.scenario, {shown}};
    summary_table(one, layout.units).render_text(out, layout.width);
    write_ranks(shown, layout, markdown, out);
    write_verdicts(outcome, layout, markdown, out);
    return;
  }
  for (const VariantOutcome& v : outcome.variants)
    write_ranks(v, layout, markdown, out);
  write_verdicts(outcome, layout, markdown, out);
}

}  // namespace

void write_report_table(const ScenarioOutcome& outcome, const ReportLayout& layout,
                        std::ostream& out) {
  write(outcome, layout, out, false);
}

void write_report_markdown(const ScenarioOutcome& outcome, const ReportLayout& layout,
                           std::ostream& out) {
  write(outcome, layout, out, true);
}

}  // namespace memsim::tools
