#include "tools/sweep_rows.h"

#include <cstring>

#include <fmt/compile.h>
#include <nlohmann/json.hpp>

#include "tools/csv.h"

namespace memsim::tools {

namespace {

// The most a row's results take: two integers of at most kMostIntegerChars, four doubles
// of at most kMostShortestChars, a boolean, the JSON keys and separators, and a whole
// Piece's slack after the last.
constexpr size_t kMostResultChars = 320;
/// A row's fixed text, copied whole.
struct Piece {
  char text[24];
  size_t size;
};
constexpr Piece piece(std::string_view text) {
  Piece p{};
  for (size_t i = 0; i < text.size(); ++i)
    p.text[i] = text[i];
  p.size = text.size();
  return p;
}
/// Each result after its separator (in JSON Lines, its key), the last one after the last.
constexpr Piece kCsvSeparators[] = {piece(""),  piece(","), piece(","), piece(","),
                                    piece(","), piece(","), piece(","), piece("\n")};
constexpr Piece kJsonSeparators[] = {piece("\"fits\":"),
                                     piece(",\"peak_bytes\":"),
                                     piece(",\"step_time_s\":"),
                                     piece(",\"bubble_fraction\":"),
                                     piece(",\"tokens_per_s\":"),
                                     piece(",\"mfu\":"),
                                     piece(",\"cpu_bytes_per_node\":"),
                                     piece("}\n")};
constexpr Piece kTrue = piece("true");
constexpr Piece kFalse = piece("false");

}  // namespace

bool better(const Row& a, const Row& b) {
  if (a.result.fits != b.result.fits) return a.result.fits;
  if (a.result.step_time_s != b.result.step_time_s)
    return a.result.step_time_s < b.result.step_time_s;
  if (a.result.peak != b.result.peak) return a.result.peak < b.result.peak;
  return a.index < b.index;
}

RowWriter::RowWriter(const std::vector<scenarios::VariantSweep>& sweeps, SweepFormat format,
                     UnitSystem units)
    : sweeps_(sweeps), format_(format), units_(units), with_variant_(sweeps.size() > 1) {
  const bool json = format == SweepFormat::kJsonLines;
  for (const scenarios::VariantSweep& v : sweeps) {
    Labels labels;
    labels.variant =
        (json ? "\"variant\":" + nlohmann::json(v.name).dump() : csv_field(v.name)) + ",";
    for (const auto& axis : v.sweep.axes()) {
      const bool auto_dp = axis.key == "parallel.dp" && axis.labels.front() == "auto";
      const std::string key = json ? nlohmann::json(axis.key).dump() + ":" : "";
      std::vector<std::string> values;
      for (size_t i = 0; !auto_dp && i < axis.labels.size(); ++i) {
        const std::string& label = axis.labels[i];
        const std::string text = !json             ? csv_field(label)
                                 : axis.numeric[i] ? label
                                                   : nlohmann::json(label).dump();
        values.push_back(key + text + ",");
      }
      labels.auto_dp.push_back(auto_dp);
      labels.keys.push_back(key);
      labels.values.push_back(std::move(values));
    }
    labels_.push_back(std::move(labels));
  }
}

std::vector<std::string> RowWriter::header(bool for_people) const {
  std::vector<std::string> columns;
  if (with_variant_) columns.emplace_back("variant");
  for (const auto& axis : sweeps_.front().sweep.axes())
    columns.push_back(axis.key);
  static const char* const kMachine[] = {
      "fits",         "peak_bytes", "step_time_s",       "bubble_fraction",
      "tokens_per_s", "mfu",        "cpu_bytes_per_node"};
  static const char* const kPeople[] = {"fits",     "peak/GPU", "step",     "bubble",
                                        "tokens/s", "MFU",      "host/node"};
  for (const char* c : for_people ? kPeople : kMachine)
    columns.emplace_back(c);
  return columns;
}

void RowWriter::csv_header(std::ostream& out) const {
  const auto columns = header();
  for (size_t i = 0; i < columns.size(); ++i)
    out << (i ? "," : "") << csv_field(columns[i]);
  out << '\n';
}

void RowWriter::write(const Row& row, fmt::memory_buffer& out) {
  const std::string_view last = swept(row);
  const auto& r = row.result;
  const Piece* separator = format_ == SweepFormat::kJsonLines ? kJsonSeparators : kCsvSeparators;
  // Written in place, in room for the swept values and the most a row's results take
  // (cut back after).
  const size_t start = out.size();
  out.resize(start + prefix_.size() + last.size() + kMostResultChars);
  char* end = out.data() + start;
  std::memcpy(end, prefix_.data(), prefix_.size());
  end += prefix_.size();
  std::memcpy(end, last.data(), last.size());
  end += last.size();
  // Whole pieces are copied (a fixed size copies fastest), the next write going over the slack.
  auto put = [&](const Piece& piece) {
    std::memcpy(end, piece.text, sizeof piece.text);
    end += piece.size;
  };
  put(*separator++);
  put(r.fits ? kTrue : kFalse);
  put(*separator++);
  end = peaks_.write(end, r.peak.value());
  const double values[] = {r.step_time_s, r.bubble_fraction, r.tokens_per_s,
                           r.model_flops_utilization};
  for (size_t v = 0; v < std::size(values); ++v) {
    put(*separator++);
    end = texts_[v].write(end, values[v]);
  }
  put(*separator++);
  end = write_integer(end, r.cpu_bytes_per_node.value());
  put(*separator);
  out.resize(static_cast<size_t>(end - out.data()));
}

void RowWriter::prefetch(const Row& row) const {
  const auto& r = row.result;
  peaks_.prefetch(r.peak.value());
  texts_[0].prefetch(r.step_time_s);
  texts_[1].prefetch(r.bubble_fraction);
  texts_[2].prefetch(r.tokens_per_s);
  texts_[3].prefetch(r.model_flops_utilization);
}

std::vector<std::string> RowWriter::cells(const Row& row) {
  const scenarios::Sweep& sweep = sweeps_[row.variant].sweep;
  sweep.coordinates(row.point, coordinates_);
  std::vector<std::string> out;
  if (with_variant_) out.push_back(sweeps_[row.variant].name);
  for (size_t a = 0; a < coordinates_.size(); ++a) {
    out.push_back(labels_[row.variant].auto_dp[a] ? std::to_string(row.dp)
                                                  : sweep.axes()[a].labels[coordinates_[a]]);
  }
  const auto& r = row.result;
  out.push_back(r.fits ? "yes" : "no");
  out.push_back(format_bytes(r.peak, units_));
  out.push_back(fmt::format("{:.3g} s", r.step_time_s));
  out.push_back(fmt::format("{:.1f}%", 100.0 * r.bubble_fraction));
  out.push_back(fmt::format("{:.0f}", r.tokens_per_s));
  out.push_back(fmt::format("{:.1f}%", 100.0 * r.model_flops_utilization));
  out.push_back(format_bytes(r.cpu_bytes_per_node, units_));
  return out;
}

std::string_view RowWriter::swept(const Row& row) {
  const auto& axes = sweeps_[row.variant].sweep.axes();
  const uint64_t last_values = axes.empty() ? 1 : axes.back().labels.size();
  const bool same_run = started_ && row.variant == variant_ && row.dp == dp_ &&
                        row.point > point_ && row.point - point_ < last_values - value_;
  if (same_run) {
    value_ += row.point - point_;
  } else {
    started_ = true;
    variant_ = row.variant;
    dp_ = row.dp;
    value_ = row.point % last_values;
    prefix_.clear();
    if (format_ == SweepFormat::kJsonLines) prefix_.push_back('{');
    if (with_variant_) prefix_.append(labels_[row.variant].variant);
    sweeps_[row.variant].sweep.coordinates(row.point, coordinates_);
    for (size_t a = 0; a + 1 < axes.size(); ++a)
      append_value(row, a, coordinates_[a], prefix_);
  }
  point_ = row.point;
  if (axes.empty()) return {};
  const size_t last = axes.size() - 1;
  if (!labels_[row.variant].auto_dp[last]) return labels_[row.variant].values[last][value_];
  last_value_.clear();  // `parallel.dp: auto`, resolved per row
  append_value(row, last, value_, last_value_);
  return {last_value_.data(), last_value_.size()};
}

void RowWriter::append_value(const Row& row, size_t a, size_t v, fmt::memory_buffer& out) const {
  const Labels& labels = labels_[row.variant];
  if (labels.auto_dp[a]) {
    out.append(labels.keys[a]);
    fmt::format_to(fmt::appender(out), FMT_COMPILE("{},"), row.dp);
    return;
  }
  out.append(labels.values[a][v]);
}

}  // namespace memsim::tools
