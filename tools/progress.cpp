#include "tools/progress.h"

#include <iostream>
#include <unistd.h>

#include <fmt/format.h>

namespace memsim::tools {

namespace {

constexpr auto kQuiet = std::chrono::seconds(1);  // no line for work shorter than this
constexpr auto kRedraw = std::chrono::milliseconds(100);

/// "1.2 M", "34.5 k", "999".
std::string amount(double value) {
  if (value >= 1e6) return fmt::format("{:.1f} M", value / 1e6);
  if (value >= 1e4) return fmt::format("{:.1f} k", value / 1e3);
  return fmt::format("{:.0f}", value);
}

}  // namespace

Progress::Progress(std::string what, std::string unit, uint64_t total)
    : Progress(std::move(what), std::move(unit), total, std::cerr, ::isatty(STDERR_FILENO) != 0,
               Clock::now) {}

Progress::Progress(std::string what, std::string unit, uint64_t total, std::ostream& out,
                   bool terminal, std::function<Clock::time_point()> now)
    : what_(std::move(what)),
      unit_(std::move(unit)),
      total_(total),
      out_(out),
      terminal_(terminal),
      now_(std::move(now)),
      start_(now_()),
      last_drawn_(start_) {}

Progress::~Progress() {
  if (drawn_) out_ << "\r\033[K" << std::flush;
}

void Progress::update(uint64_t done) {
  if (!terminal_) return;
  const Clock::time_point now = now_();
  if (now - start_ < kQuiet || (drawn_ && now - last_drawn_ < kRedraw)) return;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double rate = static_cast<double>(done) / seconds;
  const double left = rate > 0 ? static_cast<double>(total_ - std::min(done, total_)) / rate : 0;
  out_ << fmt::format("\r\033[K{}: {} of {} {}, {}/s, {:.0f} s left", what_,
                      amount(static_cast<double>(done)), amount(static_cast<double>(total_)), unit_,
                      amount(rate), left)
       << std::flush;
  drawn_ = true;
  last_drawn_ = now;
}

}  // namespace memsim::tools
