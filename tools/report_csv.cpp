#include <fmt/format.h>

#include "tools/csv.h"
#include "tools/report_writers.h"

namespace memsim::tools {

void write_report_csv(const ScenarioOutcome& outcome, std::ostream& out) {
  out << "variant,rank,pp_stage,tp_rank,dp_rank,parameters,peak_bytes,fits";
  for (sim::Category c : sim::kAllCategories)
    out << ",at_peak." << sim::category_name(c);
  for (sim::Category c : sim::kAllCategories)
    out << ",max." << sim::category_name(c);
  out << ",activations_per_microbatch\n";
  for (const VariantOutcome& v : outcome.variants) {
    for (const strategies::RankReport& rank : v.report.ranks) {
      const sim::RankResult& m = rank.memory;
      out << fmt::format("{},{},{},{},{},{},{},{}", csv_field(v.variant->name), rank.placement.rank,
                         rank.placement.pp_stage, rank.placement.tp_rank, rank.placement.dp_rank,
                         rank.parameters, m.peak.value(), rank.fits ? "true" : "false");
      for (sim::Category c : sim::kAllCategories)
        out << ',' << m.at_peak[c].value();
      for (sim::Category c : sim::kAllCategories)
        out << ',' << m.max_by_category[c].value();
      out << ',' << m.activations_per_microbatch.value() << '\n';
    }
  }
}

}  // namespace memsim::tools
