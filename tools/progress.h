#pragma once
/// A progress line for work that takes a while: on stderr, only when stderr is a terminal,
/// only once the work has taken more than a second, redrawn in place at most ten times a
/// second ("sweep: 1,234,567 of 7,056,000 points, 1.1 M/s, 5 s left"), and erased when done.

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

namespace memsim::tools {

class Progress {
 public:
  using Clock = std::chrono::steady_clock;

  /// `what` names the work ("sweep"), `unit` what it counts ("points"), `total` how many.
  /// Draws on stderr when it is a terminal.
  Progress(std::string what, std::string unit, uint64_t total);
  /// The same onto `out`, drawing only when `terminal`; `now` tells the time (for tests).
  Progress(std::string what, std::string unit, uint64_t total, std::ostream& out, bool terminal,
           std::function<Clock::time_point()> now);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// `done` of the total are done.
  void update(uint64_t done);

 private:
  std::string what_;
  std::string unit_;
  uint64_t total_;
  std::ostream& out_;
  bool terminal_;
  std::function<Clock::time_point()> now_;
  Clock::time_point start_;
  Clock::time_point last_drawn_;
  bool drawn_ = false;
};

}  // namespace memsim::tools
