#pragma once
/// SIGINT, SIGTERM and SIGHUP. The handler only records the signal. While no SignalDeferral
/// is held it then ends the process as the default action would (there is nothing to clean
/// up); while one is held, the program polls stop_requested() and stops in its own control
/// flow: a temporary output file is removed, a sweep finishes the rows it has.

#include <atomic>
#include <stdexcept>
#include <string>

namespace memsim::tools {

/// Installs the handlers, once, at start-up; ignores SIGPIPE, so that a closed pipe shows as
/// EPIPE where output is written (and ends the program quietly there).
void install_signal_handlers();

/// Set by the handler when a stop signal arrives while deferred; workers poll it.
const std::atomic<bool>& stop_requested();
/// The first stop signal that arrived while deferred, or 0.
int stop_signal();
/// Forgets a recorded signal (for tests, and a program that handled it).
void clear_stop_signal();

/// While alive, a stop signal is recorded instead of ending the process.
class SignalDeferral {
 public:
  /// kKeepOutput: Ctrl-C (SIGINT) asks to stop early but keep what was made, as a sweep
  /// does with its rows so far; SIGTERM and SIGHUP still abandon the output.
  enum class OnInterrupt { kAbandonOutput, kKeepOutput };
  explicit SignalDeferral(OnInterrupt on_interrupt = OnInterrupt::kAbandonOutput);
  ~SignalDeferral();
  SignalDeferral(const SignalDeferral&) = delete;
  SignalDeferral& operator=(const SignalDeferral&) = delete;

 private:
  OnInterrupt on_interrupt_;
};

/// Whether output being written must be abandoned: a stop signal arrived, and it is not a
/// Ctrl-C that a SignalDeferral(kKeepOutput) turned into "stop early, keep the output".
bool output_abandoned();

/// A deferred stop signal acted upon: the program cleans up and exits with 128 + signal.
class Interrupted : public std::runtime_error {
 public:
  Interrupted(int signal, const std::string& what);
  int signal() const { return signal_; }

 private:
  int signal_;
};

}  // namespace memsim::tools
