#pragma once
/// Runs a sweep on every core: points are evaluated in chunks by worker threads (each with
/// its own fast evaluator) and written in grid order as chunks complete, so memory holds a
/// few chunks of rows (or, with a top-N, only the N best); on one thread, the calling
/// thread evaluates and writes each chunk in turn. A stop flag (Ctrl-C) ends the
/// run after the last complete chunk: every row written is whole.

#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "scenarios/sweep.h"
#include "tools/units_format.h"

namespace memsim::tools {

enum class SweepFormat { kCsv, kJsonLines, kTable, kMarkdown };

struct SweepOptions {
  SweepFormat format = SweepFormat::kCsv;
  int64_t top = 0;                                    ///< 0: every valid point, in grid order
  int threads = 0;                                    ///< 0: one per core
  bool progress = false;                              ///< a progress bar on stderr
  size_t width = std::numeric_limits<size_t>::max();  ///< of a table's lines, where it can
  UnitSystem units = UnitSystem::kBinary;             ///< of a table's sizes
};

struct SweepSummary {
  uint64_t points = 0;  ///< visited (all of them unless stopped)
  uint64_t evaluated = 0;
  uint64_t fitting = 0;
  std::map<std::string, uint64_t> skipped;  ///< by reason
  double seconds = 0.0;
  bool interrupted = false;
};

/// Rows carry a `variant` column first when there is more than one variant.
SweepSummary run_sweep(const std::vector<scenarios::VariantSweep>& sweeps,
                       const SweepOptions& options, std::ostream& out,
                       const std::atomic<bool>& stop);

/// "1,234,567 points in 1.20 s (1.03 M/s): 800,000 evaluated (12 fit), 434,567 skipped: ..."
std::string describe(const SweepSummary& summary);

}  // namespace memsim::tools
