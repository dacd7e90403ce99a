#include "tools/signals.h"

#include <csignal>

namespace memsim::tools {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
std::atomic<int> g_deferrals{0};
std::atomic<int> g_interrupt_keepers{0};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "read and written by a signal handler");

extern "C" void on_stop_signal(int signal) {
  if (g_deferrals.load() == 0) {
    // Nothing to clean up: end as the default action would. The signal is blocked while
    // its handler runs, so it is delivered, with the default action, once this returns.
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    return;
  }
  int none = 0;
  g_signal.compare_exchange_strong(none, signal);
  g_stop.store(true);
}

}  // namespace

void install_signal_handlers() {
  struct sigaction action = {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int signal : {SIGINT, SIGTERM, SIGHUP})
    sigaction(signal, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

const std::atomic<bool>& stop_requested() {
  return g_stop;
}

int stop_signal() {
  return g_signal.load();
}

void clear_stop_signal() {
  g_signal.store(0);
  g_stop.store(false);
}

SignalDeferral::SignalDeferral(OnInterrupt on_interrupt) : on_interrupt_(on_interrupt) {
  if (on_interrupt_ == OnInterrupt::kKeepOutput) ++g_interrupt_keepers;
  ++g_deferrals;
}

SignalDeferral::~SignalDeferral() {
  --g_deferrals;
  if (on_interrupt_ == OnInterrupt::kKeepOutput) --g_interrupt_keepers;
}

bool output_abandoned() {
  if (!g_stop.load()) return false;
  return !(g_signal.load() == SIGINT && g_interrupt_keepers.load() > 0);
}

Interrupted::Interrupted(int signal, const std::string& what)
    : std::runtime_error(what), signal_(signal) {}

}  // namespace memsim::tools
