#pragma once
/// What `memsim run`'s reports for people say, piece by piece, whatever their format (text,
/// Markdown, HTML): the summary, the ranks, the verdicts and how to make a variant fit.

#include <string>

#include "tools/outcome.h"
#include "tools/text_table.h"
#include "tools/units_format.h"

namespace memsim::tools {

/// The variants side by side: a column each, a row per figure.
TextTable summary_table(const ScenarioOutcome& outcome, UnitSystem units);
/// A row per variant: layout, peak of capacity, fit, the two largest categories, step time.
TextTable compact_table(const ScenarioOutcome& outcome, UnitSystem units);
/// Consecutive ranks of one stage with identical memory share a row.
TextTable ranks_table(const VariantOutcome& v, UnitSystem units);
/// "base: does not fit. 4 of 4 ranks run out of memory; ..."
std::string verdict(const VariantOutcome& v, UnitSystem units);
/// "Fits: a, b. Does not fit: c." over all variants.
std::string summary_line(const ScenarioOutcome& outcome);
/// The variant a compact report details: the fastest that fits, or the closest to fitting.
const VariantOutcome& featured(const ScenarioOutcome& outcome);
/// "peak 61.20 GiB, step +31.0%": what a suggestion gives, against the variant.
std::string suggestion_gain(const Suggestion& s, const VariantOutcome& v, UnitSystem units);

}  // namespace memsim::tools
