#include <fmt/format.h>

#include "tools/csv.h"
#include "tools/report_writers.h"

namespace memsim::tools {

namespace {

using nlohmann::ordered_json;

/// Nested objects flattened to dotted names: at_peak.weights.
void flatten(const ordered_json& object, const std::string& prefix,
             std::vector<std::pair<std::string, const ordered_json*>>& out) {
  for (const auto& [key, value] : object.items()) {
    if (value.is_object()) {
      flatten(value, prefix + key + ".", out);
    } else {
      out.emplace_back(prefix + key, &value);
    }
  }
}

/// Strings as they are, null (a field a variant does not have) empty, numbers as JSON has them.
std::string cell(const ordered_json& value) {
  if (value.is_null()) return "";
  return csv_field(value.is_string() ? value.get<std::string>() : value.dump());
}

}  // namespace

void write_report_csv(const ScenarioOutcome& outcome, std::ostream& out) {
  std::vector<ordered_json> summaries;
  for (const VariantOutcome& v : outcome.variants)
    summaries.push_back(variant_summary(v));
  std::vector<std::vector<std::pair<std::string, const ordered_json*>>> fields(summaries.size());
  for (size_t i = 0; i < summaries.size(); ++i)
    flatten(summaries[i], "", fields[i]);
  // Every variant's summary has the same fields in the same order; "name" heads the columns.
  out << "metric";
  for (const auto& f : fields)
    out << ',' << cell(*f.front().second);
  out << '\n';
  for (size_t row = 1; row < fields.front().size(); ++row) {
    out << csv_field(fields.front()[row].first);
    for (const auto& f : fields)
      out << ',' << cell(*f[row].second);
    out << '\n';
  }
}

}  // namespace memsim::tools
