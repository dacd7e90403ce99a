// The progress line: only on a terminal, only after a second, redrawn at most ten times a
// second, erased at the end; and in a real pseudo-terminal, from a long sweep.

#include "tools/progress.h"

#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "support/test_support.h"

namespace {

using memsim::tools::Progress;
using namespace std::chrono_literals;

struct FakeClock {
  Progress::Clock::time_point now{};
  std::function<Progress::Clock::time_point()> function() {
    return [this] { return now; };
  }
};

}  // namespace

TEST_CASE("a progress line appears after a second, redrawn at most every 100 ms, then erased") {
  FakeClock clock;
  std::ostringstream out;
  {
    Progress progress("sweep", "points", 1000, out, true, clock.function());
    clock.now += 500ms;
    progress.update(100);
    CHECK(out.str().empty());  // quick work shows nothing
    clock.now += 1000ms;
    progress.update(500);
    CHECK(out.str() == "\r\033[Ksweep: 500 of 1000 points, 333/s, 2 s left");
    clock.now += 50ms;
    progress.update(510);
    CHECK(out.str() == "\r\033[Ksweep: 500 of 1000 points, 333/s, 2 s left");
    clock.now += 60ms;
    progress.update(2'000'000);  // past the total: nothing left
    CHECK(out.str().ends_with("sweep: 2.0 M of 1000 points, 1.2 M/s, 0 s left"));
  }
  CHECK(out.str().ends_with("\r\033[K"));
}

TEST_CASE("no progress line when not on a terminal") {
  FakeClock clock;
  std::ostringstream out;
  {
    Progress progress("sweep", "points", 1000, out, false, clock.function());
    clock.now += 5s;
    progress.update(10);
  }
  CHECK(out.str().empty());
}

TEST_CASE("memsim sweep on a terminal shows its progress, redrawn in place") {
  const std::string scenario = memsim::testing::long_sweep_scenario("progress");
  int terminal = -1;
  const pid_t pid = ::forkpty(&terminal, nullptr, nullptr, nullptr);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::execl(MEMSIM_BINARY, MEMSIM_BINARY, "sweep", scenario.c_str(), "--top", "1", "--threads", "2",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Read what the terminal shows for three seconds, then stop the sweep.
  std::string shown;
  const auto until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < until) {
    pollfd ready = {terminal, POLLIN, 0};
    if (::poll(&ready, 1, 100) <= 0) continue;
    char buffer[4096];
    const ssize_t got = ::read(terminal, buffer, sizeof buffer);
    if (got <= 0) break;
    shown.append(buffer, static_cast<size_t>(got));
  }
  ::kill(pid, SIGINT);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  ::close(terminal);
  CHECK(shown.find("\r\033[Ksweep: ") != std::string::npos);
  CHECK(shown.find(" of 11.5 M points, ") != std::string::npos);
  CHECK(shown.find(" s left") != std::string::npos);
}
