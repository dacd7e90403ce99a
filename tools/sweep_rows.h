#pragma once
/// A sweep's rows as text: CSV and JSON Lines rows written in place (the swept values as
/// the scenario wrote them, then the results), and cells for tables. Rows of a sweep come
/// in runs that differ only in the last axis, and the values of rows repeat far apart:
/// both are formatted once.

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "evaluation/fast_evaluator.h"
#include "scenarios/sweep.h"
#include "tools/number_text.h"
#include "tools/sweep_runner.h"
#include "tools/units_format.h"

namespace memsim::tools {

/// One valid point of a sweep, evaluated.
struct Row {
  uint64_t index = 0;  ///< over all variants' grids, in output order
  size_t variant = 0;
  uint64_t point = 0;  ///< within the variant's grid
  int64_t dp = 0;      ///< resolved, shown for `parallel.dp: auto`
  evaluation::FastResult result;
};

/// Fits first, then the shorter step, then the smaller peak, then grid order.
bool better(const Row& a, const Row& b);

/// Formats rows: the variant (when there are several), the swept values as written, then
/// the results. Not thread-safe: one per thread.
class RowWriter {
 public:
  RowWriter(const std::vector<scenarios::VariantSweep>& sweeps, SweepFormat format,
            UnitSystem units);
  /// The columns: machine names (CSV, JSON Lines) or, for tables, names for people.
  std::vector<std::string> header(bool for_people = false) const;
  void csv_header(std::ostream& out) const;
  /// Appends `row` as a CSV or JSON Lines line.
  void write(const Row& row, fmt::memory_buffer& out);
  /// Brings what writing `row` reads into the cache, for a write a little later.
  void prefetch(const Row& row) const;
  /// `row`'s cells for a table, for people.
  std::vector<std::string> cells(const Row& row);

 private:
  /// The row's start: the variant and each swept value, each followed by a comma. Rows
  /// come in runs that differ only in the last axis: the rest (prefix_) is formatted once
  /// per run, and the last axis's value counted on from the row before; returns its text.
  std::string_view swept(const Row& row);
  /// Axis `a`'s value `v` (its key first in JSON Lines), and a comma.
  void append_value(const Row& row, size_t a, size_t v, fmt::memory_buffer& out) const;

  /// A variant's text, made once: rows only copy it.
  struct Labels {
    std::vector<bool> auto_dp;  ///< the axis is `parallel.dp: auto`: show the resolved value
    std::string variant;        ///< its name and a comma, as the format writes it
    /// Per axis, its key as the format writes it before a value ("" in CSV, `"key":` in
    /// JSON Lines), and each value after its key, with a comma (none for dp: auto, whose
    /// value is each row's).
    std::vector<std::string> keys;
    std::vector<std::vector<std::string>> values;
  };
  const std::vector<scenarios::VariantSweep>& sweeps_;
  SweepFormat format_;
  UnitSystem units_;
  bool with_variant_;
  std::vector<Labels> labels_;
  IntegerTexts peaks_;      ///< of the peak column
  ShortestTexts texts_[4];  ///< per column of doubles
  std::vector<size_t> coordinates_;
  // The run of rows being written: their start, and the last row's point and value of
  // the last axis.
  fmt::memory_buffer prefix_;
  fmt::memory_buffer last_value_;
  bool started_ = false;
  size_t variant_ = 0;
  int64_t dp_ = 0;
  uint64_t point_ = 0;
  uint64_t value_ = 0;
};

}  // namespace memsim::tools
