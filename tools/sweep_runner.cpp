#include "tools/sweep_runner.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>
#include <queue>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/compile.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "evaluation/fast_evaluator.h"
#include "tools/csv.h"
#include "tools/number_text.h"
#include "tools/progress.h"
#include "tools/text_table.h"

namespace memsim::tools {

namespace {

constexpr uint64_t kChunk = 2048;  // points a worker evaluates at a time
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
// A typical row, for a chunk's room: a dozen short values and their separators.
constexpr size_t kRowChars = 160;

using Clock = std::chrono::steady_clock;

struct Row {
  uint64_t index = 0;  ///< over all variants' grids, in output order
  size_t variant = 0;
  uint64_t point = 0;  ///< within the variant's grid
  int64_t dp = 0;      ///< resolved, shown for `parallel.dp: auto`
  evaluation::FastResult result;
};

/// Fits first, then the shorter step, then the smaller peak, then grid order.
bool better(const Row& a, const Row& b) {
  if (a.result.fits != b.result.fits) return a.result.fits;
  if (a.result.step_time_s != b.result.step_time_s)
    return a.result.step_time_s < b.result.step_time_s;
  if (a.result.peak != b.result.peak) return a.result.peak < b.result.peak;
  return a.index < b.index;
}
struct Worse {
  bool operator()(const Row& a, const Row& b) const { return better(a, b); }
};

/// Formats rows: the variant (when there are several), the swept values as written, then
/// the results.
class RowWriter {
 public:
  RowWriter(const std::vector<scenarios::VariantSweep>& sweeps, SweepFormat format,
            UnitSystem units)
      : sweeps_(sweeps), format_(format), units_(units), with_variant_(sweeps.size() > 1) {
    for (const scenarios::VariantSweep& v : sweeps) {
      Labels labels;
      labels.csv_variant = csv_field(v.name) + ",";
      labels.json_variant = "\"variant\":" + nlohmann::json(v.name).dump() + ",";
      for (const auto& axis : v.sweep.axes()) {
        std::vector<std::string> csv;
        std::vector<std::string> json;
        labels.auto_dp.push_back(axis.key == "parallel.dp" && axis.labels.front() == "auto");
        for (size_t i = 0; i < axis.labels.size(); ++i) {
          csv.push_back(csv_field(axis.labels[i]));
          json.push_back(axis.numeric[i] ? axis.labels[i] : nlohmann::json(axis.labels[i]).dump());
        }
        labels.csv.push_back(std::move(csv));
        labels.json.push_back(std::move(json));
        labels.json_keys.push_back(nlohmann::json(axis.key).dump());
      }
      const size_t last = v.sweep.axes().size() - 1;
      if (!v.sweep.axes().empty() && !labels.auto_dp[last]) {
        for (size_t i = 0; i < v.sweep.axes()[last].labels.size(); ++i) {
          const bool json = format_ == SweepFormat::kJsonLines;
          labels.last_values.push_back(
              (json ? labels.json_keys[last] + ":" + labels.json[last][i] : labels.csv[last][i]) +
              ",");
        }
      }
      labels_.push_back(std::move(labels));
    }
  }

  /// The columns: machine names (CSV, JSON Lines) or, for tables, names for people.
  std::vector<std::string> header(bool for_people = false) const {
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

  void csv_header(std::ostream& out) const {
    const auto columns = header();
    for (size_t i = 0; i < columns.size(); ++i)
      out << (i ? "," : "") << csv_field(columns[i]);
    out << '\n';
  }

  void write(const Row& row, fmt::memory_buffer& out) {
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
    end = write_integer(end, r.peak.value());
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

  std::vector<std::string> cells(const Row& row) {
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

 private:
  /// The row's start: the variant and each swept value, each followed by a comma. Rows
  /// come in runs that differ only in the last axis: the rest (prefix_) is formatted once
  /// per run, and the last axis's value counted on from the row before; returns its text.
  std::string_view swept(const Row& row) {
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
      const bool json = format_ == SweepFormat::kJsonLines;
      if (json) prefix_.push_back('{');
      if (with_variant_)
        prefix_.append(json ? labels_[row.variant].json_variant : labels_[row.variant].csv_variant);
      sweeps_[row.variant].sweep.coordinates(row.point, coordinates_);
      for (size_t a = 0; a + 1 < axes.size(); ++a)
        append_value(row, a, coordinates_[a], prefix_);
    }
    point_ = row.point;
    if (axes.empty()) return {};
    const std::vector<std::string>& written = labels_[row.variant].last_values;
    if (!written.empty()) return written[value_];
    last_value_.clear();  // `parallel.dp: auto`, resolved per row
    append_value(row, axes.size() - 1, value_, last_value_);
    return {last_value_.data(), last_value_.size()};
  }

  /// Axis `a`'s value `v` (its key first in JSON Lines), and a comma.
  void append_value(const Row& row, size_t a, size_t v, fmt::memory_buffer& out) const {
    const Labels& labels = labels_[row.variant];
    const bool json = format_ == SweepFormat::kJsonLines;
    if (json) {
      out.append(labels.json_keys[a]);
      out.push_back(':');
    }
    if (labels.auto_dp[a]) {
      fmt::format_to(fmt::appender(out), FMT_COMPILE("{},"), row.dp);
      return;
    }
    out.append(json ? labels.json[a][v] : labels.csv[a][v]);
    out.push_back(',');
  }

  /// Each value of each axis, formatted once.
  struct Labels {
    std::vector<bool> auto_dp;  ///< the axis is `parallel.dp: auto`: show the resolved value
    std::string csv_variant;
    std::string json_variant;
    std::vector<std::vector<std::string>> csv;
    std::vector<std::vector<std::string>> json;
    std::vector<std::string> json_keys;
    /// The last axis's values as rows write them (its key first in JSON Lines, a comma
    /// after); none when the axis is `parallel.dp: auto`.
    std::vector<std::string> last_values;
  };
  const std::vector<scenarios::VariantSweep>& sweeps_;
  SweepFormat format_;
  UnitSystem units_;
  bool with_variant_;
  std::vector<Labels> labels_;
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

/// What a worker hands the writer for one chunk.
struct ChunkResult {
  fmt::memory_buffer text;
  uint64_t points = 0;
  uint64_t evaluated = 0;
  uint64_t fitting = 0;
  std::map<std::string, uint64_t, std::less<>> skipped;
};

class Runner {
 public:
  Runner(const std::vector<scenarios::VariantSweep>& sweeps, const SweepOptions& options,
         const std::atomic<bool>& stop)
      : sweeps_(sweeps), options_(options), stop_(stop) {
    for (const scenarios::VariantSweep& v : sweeps) {
      starts_.push_back(points_);
      points_ += v.sweep.points();
    }
    chunks_ = (points_ + kChunk - 1) / kChunk;
    threads_ = options.threads > 0
                   ? options.threads
                   : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    window_ = static_cast<uint64_t>(4 * threads_);
  }

  SweepSummary run(std::ostream& out) {
    const auto start = Clock::now();
    RowWriter writer(sweeps_, options_.format, options_.units);
    const bool streaming = options_.top == 0;
    if (streaming && options_.format == SweepFormat::kCsv) writer.csv_header(out);
    std::vector<std::vector<Row>> tops(threads_);
    active_ = threads_;
    Workers workers(*this);
    for (int t = 0; t < threads_; ++t) {
      workers.threads.emplace_back([this, t, &tops] { work(tops[t]); });
    }
    SweepSummary summary;
    std::optional<Progress> progress;
    if (options_.progress) progress.emplace("sweep", "points", points_);
    for (uint64_t next = 0; next < chunks_; ++next) {
      ChunkResult result;
      {
        std::unique_lock lock(mutex_);
        // After a stop, once every worker has left no more chunks will come.
        while (!done_.count(next) && !(stop_ && active_ == 0)) {
          ready_.wait_for(lock, std::chrono::milliseconds(100));
          if (progress) progress->update(summary.points);
        }
        if (!done_.count(next)) break;  // stopped before this chunk was finished
        result = std::move(done_[next]);
        done_.erase(next);
        written_ = next + 1;
      }
      room_.notify_all();
      out.write(result.text.data(), static_cast<std::streamsize>(result.text.size()));
      summary.points += result.points;
      summary.evaluated += result.evaluated;
      summary.fitting += result.fitting;
      for (const auto& [reason, count] : result.skipped)
        summary.skipped[reason] += count;
      if (progress) progress->update(summary.points);
    }
    workers.finish();
    progress.reset();
    summary.interrupted = summary.points < points_;
    if (!streaming) write_top(tops, writer, out);
    out.flush();
    summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return summary;
  }

 private:
  /// The worker threads, told to finish and joined however run() ends (a failed write too).
  struct Workers {
    explicit Workers(Runner& runner) : runner(runner) {}
    ~Workers() { finish(); }
    Workers(const Workers&) = delete;
    Workers& operator=(const Workers&) = delete;
    void finish() {
      {
        std::lock_guard lock(runner.mutex_);
        runner.finished_ = true;
      }
      runner.room_.notify_all();
      for (std::thread& t : threads) {
        if (t.joinable()) t.join();
      }
    }
    Runner& runner;
    std::vector<std::thread> threads;
  };

  void work(std::vector<Row>& top) {
    evaluation::FastEvaluator evaluator;
    std::vector<scenarios::SweepPlan> plans;
    for (const scenarios::VariantSweep& v : sweeps_)
      plans.emplace_back(v.sweep);
    RowWriter writer(sweeps_, options_.format, options_.units);
    while (!stop_) {
      const uint64_t chunk = next_chunk_++;
      if (chunk >= chunks_) break;
      {
        std::unique_lock lock(mutex_);
        // Timed: a stop comes from a signal handler, which cannot notify.
        while (!finished_ && !stop_ && chunk >= written_ + window_) {
          room_.wait_for(lock, std::chrono::milliseconds(100));
        }
        if (finished_ || stop_) break;
      }
      ChunkResult result;
      if (options_.top == 0) result.text.reserve(kChunk * kRowChars);
      const uint64_t first = chunk * kChunk;
      const uint64_t end = std::min(points_, first + kChunk);
      size_t variant = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), first) -
                                           starts_.begin() - 1);
      bool complete = true;
      for (uint64_t index = first; index < end; ++index) {
        if ((index & 255) == 0 && stop_) {
          complete = false;
          break;
        }
        while (variant + 1 < starts_.size() && index >= starts_[variant + 1])
          ++variant;
        scenarios::SweepPlan& plan = plans[variant];
        const uint64_t point = index - starts_[variant];
        ++result.points;
        if (const std::string_view skip = plan.prepare(point); !skip.empty()) {
          auto it = result.skipped.find(skip);
          if (it == result.skipped.end()) it = result.skipped.emplace(skip, 0).first;
          ++it->second;
          continue;
        }
        Row row{index, variant, point, plan.plan().parallel.dp.degree,
                evaluator.evaluate(plan.plan(), evaluation::StagePeaks::kLargestOnly)};
        ++result.evaluated;
        result.fitting += row.result.fits ? 1 : 0;
        if (options_.top == 0) {
          writer.write(row, result.text);
        } else {
          keep(top, std::move(row));
        }
      }
      if (!complete) break;
      {
        std::lock_guard lock(mutex_);
        done_[chunk] = std::move(result);
      }
      ready_.notify_all();
    }
    {
      std::lock_guard lock(mutex_);
      --active_;
    }
    ready_.notify_all();
  }

  /// Keeps the `top` best rows in a heap whose front is the worst kept.
  void keep(std::vector<Row>& top, Row row) const {
    if (static_cast<int64_t>(top.size()) < options_.top) {
      top.push_back(std::move(row));
      std::push_heap(top.begin(), top.end(), Worse());
    } else if (better(row, top.front())) {
      std::pop_heap(top.begin(), top.end(), Worse());
      top.back() = std::move(row);
      std::push_heap(top.begin(), top.end(), Worse());
    }
  }

  void write_top(std::vector<std::vector<Row>>& tops, RowWriter& writer, std::ostream& out) const {
    std::vector<Row> all;
    for (auto& t : tops)
      all.insert(all.end(), t.begin(), t.end());
    std::sort(all.begin(), all.end(), better);
    if (static_cast<int64_t>(all.size()) > options_.top) all.resize(options_.top);
    if (options_.format == SweepFormat::kTable || options_.format == SweepFormat::kMarkdown) {
      TextTable table(writer.header(true));
      for (const Row& row : all)
        table.add_row(writer.cells(row));
      if (options_.format == SweepFormat::kTable) {
        table.render_fitted(out, options_.width);
      } else {
        table.render_markdown(out);
      }
      return;
    }
    if (options_.format == SweepFormat::kCsv) writer.csv_header(out);
    fmt::memory_buffer text;
    for (const Row& row : all)
      writer.write(row, text);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }

  const std::vector<scenarios::VariantSweep>& sweeps_;
  const SweepOptions& options_;
  const std::atomic<bool>& stop_;
  std::vector<uint64_t> starts_;  ///< each variant's first index
  uint64_t points_ = 0;
  uint64_t chunks_ = 0;
  int threads_ = 1;
  uint64_t window_ = 4;
  std::atomic<uint64_t> next_chunk_{0};
  std::mutex mutex_;
  std::condition_variable ready_;  ///< a chunk is done, or a worker left
  std::condition_variable room_;   ///< the writer moved on
  std::map<uint64_t, ChunkResult> done_;
  uint64_t written_ = 0;
  int active_ = 0;
  bool finished_ = false;
};

}  // namespace

SweepSummary run_sweep(const std::vector<scenarios::VariantSweep>& sweeps,
                       const SweepOptions& options, std::ostream& out,
                       const std::atomic<bool>& stop) {
  return Runner(sweeps, options, stop).run(out);
}

std::string describe(const SweepSummary& s) {
  const double rate = s.seconds > 0 ? static_cast<double>(s.points) / s.seconds : 0.0;
  std::string text = fmt::format("{} points in {:.2f} s ({:.2f} million/s): {} evaluated ({} fit)",
                                 s.points, s.seconds, rate / 1e6, s.evaluated, s.fitting);
  uint64_t skipped = 0;
  for (const auto& [reason, count] : s.skipped)
    skipped += count;
  if (skipped > 0) {
    text += fmt::format(", {} skipped:", skipped);
    for (const auto& [reason, count] : s.skipped)
      text += fmt::format("\n  {:>12}  {}", count, reason);
  }
  if (s.interrupted) text += "\ninterrupted: the rows written so far are complete";
  return text;
}

}  // namespace memsim::tools
