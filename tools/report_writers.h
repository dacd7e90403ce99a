#pragma once
/// Writers for `memsim run`: each renders a ScenarioOutcome onto a stream.

#include <ostream>

#include "tools/outcome.h"
#include "tools/units_format.h"

namespace memsim::tools {

/// Variants side by side (variants as columns), per-rank peaks, and a verdict per variant.
void write_report_table(const ScenarioOutcome& outcome, UnitSystem units, std::ostream& out);
/// The same content as Markdown tables.
void write_report_markdown(const ScenarioOutcome& outcome, UnitSystem units, std::ostream& out);
/// SPEC.md's JSON report (integer bytes).
void write_report_json(const ScenarioOutcome& outcome, std::ostream& out);
/// One row per variant and rank (integer bytes).
void write_report_csv(const ScenarioOutcome& outcome, std::ostream& out);

}  // namespace memsim::tools
