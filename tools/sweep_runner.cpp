#include "tools/sweep_runner.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <optional>
#include <queue>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "evaluation/fast_evaluator.h"
#include "tools/progress.h"
#include "tools/sweep_rows.h"
#include "tools/text_table.h"

namespace memsim::tools {

namespace {

constexpr uint64_t kChunk = 2048;  // points a worker evaluates at a time
// A typical row, for a chunk's room: a dozen short values and their separators.
constexpr size_t kRowChars = 160;

using Clock = std::chrono::steady_clock;

/// Orders a heap of the best rows with the worst on top.
struct Worse {
  bool operator()(const Row& a, const Row& b) const { return better(a, b); }
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
    SweepSummary summary;
    std::optional<Progress> progress;
    if (options_.progress) progress.emplace("sweep", "points", points_);
    if (threads_ == 1) {
      run_here(tops.front(), out, summary, progress);
    } else {
      run_on_workers(tops, out, summary, progress);
    }
    progress.reset();
    summary.interrupted = summary.points < points_;
    if (!streaming) write_top(tops, writer, out);
    out.flush();
    summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return summary;
  }

 private:
  /// One thread: this one evaluates each chunk and writes it, with no handing over between
  /// threads (each hand-over wakes a thread: a system call, and on a virtual machine an
  /// interrupt to another core).
  void run_here(std::vector<Row>& top, std::ostream& out, SweepSummary& summary,
                std::optional<Progress>& progress) {
    Evaluation ours(*this);
    for (uint64_t chunk = 0; chunk < chunks_ && !stop_; ++chunk) {
      ChunkResult result;
      if (!evaluate_chunk(chunk, ours, top, result)) break;
      take(result, out, summary, progress);
    }
  }

  /// Worker threads evaluate chunks; this thread writes them in grid order.
  void run_on_workers(std::vector<std::vector<Row>>& tops, std::ostream& out, SweepSummary& summary,
                      std::optional<Progress>& progress) {
    active_ = threads_;
    Workers workers(*this);
    for (int t = 0; t < threads_; ++t) {
      workers.threads.emplace_back([this, t, &tops] { work(tops[t]); });
    }
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
      take(result, out, summary, progress);
    }
    workers.finish();
  }

  /// Writes a chunk's rows and counts its points.
  static void take(const ChunkResult& result, std::ostream& out, SweepSummary& summary,
                   std::optional<Progress>& progress) {
    out.write(result.text.data(), static_cast<std::streamsize>(result.text.size()));
    summary.points += result.points;
    summary.evaluated += result.evaluated;
    summary.fitting += result.fitting;
    for (const auto& [reason, count] : result.skipped)
      summary.skipped[reason] += count;
    if (progress) progress->update(summary.points);
  }

  /// What a thread evaluates chunks with: its own evaluator, plans and row writer.
  struct Evaluation {
    explicit Evaluation(const Runner& runner)
        : writer(runner.sweeps_, runner.options_.format, runner.options_.units) {
      for (const scenarios::VariantSweep& v : runner.sweeps_)
        plans.emplace_back(v.sweep);
    }
    evaluation::FastEvaluator evaluator;
    std::vector<scenarios::SweepPlan> plans;
    RowWriter writer;
    /// Whether every point prepared since the last one evaluated changed only the global
    /// batch: the next one evaluated differs from it only there (PlanChange).
    bool only_batch_changed = false;
  };

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
    Evaluation ours(*this);
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
      if (!evaluate_chunk(chunk, ours, top, result)) break;
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

  /// Evaluates the points of `chunk` with this thread's `ours` into `result` (rows as text)
  /// or `top`; false when a stop cut it short.
  bool evaluate_chunk(uint64_t chunk, Evaluation& ours, std::vector<Row>& top,
                      ChunkResult& result) const {
    if (options_.top == 0) result.text.reserve(kChunk * kRowChars);
    const uint64_t first = chunk * kChunk;
    const uint64_t end = std::min(points_, first + kChunk);
    size_t variant = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), first) -
                                         starts_.begin() - 1);
    // Each row is written once the next is evaluated: the texts it reads were asked for when
    // it was, and are in the cache by then (a sweep's rows meet their kept texts far apart).
    std::optional<Row> pending;
    for (uint64_t index = first; index < end; ++index) {
      if ((index & 255) == 0 && stop_) return false;
      while (variant + 1 < starts_.size() && index >= starts_[variant + 1])
        ++variant;
      scenarios::SweepPlan& plan = ours.plans[variant];
      const uint64_t point = index - starts_[variant];
      ++result.points;
      const std::string_view skip = plan.prepare(point);
      ours.only_batch_changed = ours.only_batch_changed && plan.only_batch_changed();
      if (!skip.empty()) {
        auto it = result.skipped.find(skip);
        if (it == result.skipped.end()) it = result.skipped.emplace(skip, 0).first;
        ++it->second;
        continue;
      }
      const auto change = ours.only_batch_changed ? evaluation::PlanChange::kGlobalBatchOnly
                                                  : evaluation::PlanChange::kAny;
      Row row{index, variant, point, plan.plan().parallel.dp.degree,
              ours.evaluator.evaluate(plan.plan(), evaluation::StagePeaks::kLargestOnly, change)};
      ours.only_batch_changed = true;
      ++result.evaluated;
      result.fitting += row.result.fits ? 1 : 0;
      if (options_.top == 0) {
        ours.writer.prefetch(row);
        if (pending) ours.writer.write(*pending, result.text);
        pending = std::move(row);
      } else {
        keep(top, std::move(row));
      }
    }
    if (pending) ours.writer.write(*pending, result.text);
    return true;
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
