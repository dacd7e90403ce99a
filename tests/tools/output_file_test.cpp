// -o FILE never harms the machine: regular files are replaced atomically and keep their mode
// and owner, read-only ones are refused, anything else is written in place and never renamed
// over, and every failure leaves no temporary file and the target as it was.

#include "tools/output_file.h"

#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <doctest/doctest.h>

#include "scenarios/diagnostics.h"
#include "support/test_support.h"
#include "tools/fd_stream.h"
#include "tools/signals.h"

namespace {

namespace fs = std::filesystem;
using memsim::tools::write_output;

/// A fresh, empty folder for one test.
fs::path fresh_folder(const std::string& name) {
  const fs::path dir =
      fs::path(memsim::testing::write_temp_file("output/" + name + "/x", "")).parent_path();
  fs::remove(dir / "x");
  return dir;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

/// The folder's entries other than `keep`: a temporary file left behind shows here.
std::vector<std::string> others(const fs::path& dir, const std::vector<std::string>& keep) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (std::find(keep.begin(), keep.end(), name) == keep.end()) names.push_back(name);
  }
  return names;
}

void write_hello(const std::string& path) {
  write_output(path, [](std::ostream& out) { out << "hello\n"; });
}

struct stat status_of(const fs::path& path) {
  struct stat st = {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

}  // namespace

TEST_CASE("a new file gets the default mode, and no temporary file is left") {
  const fs::path dir = fresh_folder("new");
  const mode_t mask = ::umask(022);
  write_hello((dir / "out.txt").string());
  ::umask(mask);
  CHECK(read_text(dir / "out.txt") == "hello\n");
  CHECK((status_of(dir / "out.txt").st_mode & 07777) == 0644);
  CHECK(others(dir, {"out.txt"}).empty());
}

TEST_CASE("an existing file is replaced and keeps its mode and owner") {
  const fs::path dir = fresh_folder("existing");
  const fs::path file = dir / "out.txt";
  write_text(file, "old text, longer than the new\n");
  REQUIRE(::chmod(file.c_str(), 0640) == 0);
  const bool root = ::geteuid() == 0;
  if (root) REQUIRE(::chown(file.c_str(), 65534, 65534) == 0);  // nobody:nogroup
  const ino_t before = status_of(file).st_ino;
  write_hello(file.string());
  const struct stat after = status_of(file);
  CHECK(read_text(file) == "hello\n");
  CHECK(after.st_ino != before);  // a new file renamed into place, not rewritten
  CHECK((after.st_mode & 07777) == 0640);
  if (root) {
    CHECK(after.st_uid == 65534);
    CHECK(after.st_gid == 65534);
  } else {
    MESSAGE("not root: the owner of another user's file is not tested");
  }
  CHECK(others(dir, {"out.txt"}).empty());
}

TEST_CASE("a file without write permission in its mode is refused, for root too") {
  const fs::path dir = fresh_folder("read-only");
  const fs::path file = dir / "out.txt";
  write_text(file, "keep me\n");
  REQUIRE(::chmod(file.c_str(), 0444) == 0);
  try {
    write_hello(file.string());
    FAIL("a read-only file was replaced");
  } catch (const memsim::scenarios::InputError& e) {
    CHECK(std::string(e.what()) == "-o " + file.string() +
                                       ": error: the file is read-only (mode 0444); memsim "
                                       "does not replace it");
  }
  CHECK(read_text(file) == "keep me\n");
  CHECK(others(dir, {"out.txt"}).empty());
}

TEST_CASE("a symbolic link is followed and its target replaced; the link stays") {
  const fs::path dir = fresh_folder("links");
  write_text(dir / "target.txt", "old\n");
  fs::create_symlink("target.txt", dir / "link.txt");
  write_hello((dir / "link.txt").string());
  CHECK(fs::is_symlink(dir / "link.txt"));
  CHECK(read_text(dir / "target.txt") == "hello\n");

  // A link to a file that does not exist yet creates that file.
  fs::create_symlink("later.txt", dir / "dangling.txt");
  write_hello((dir / "dangling.txt").string());
  CHECK(fs::is_symlink(dir / "dangling.txt"));
  CHECK(read_text(dir / "later.txt") == "hello\n");

  // A loop of links is an error, not a hang.
  fs::create_symlink("loop-b", dir / "loop-a");
  fs::create_symlink("loop-a", dir / "loop-b");
  CHECK_THROWS_WITH_AS(write_hello((dir / "loop-a").string()),
                       doctest::Contains("too many levels of symbolic links"),
                       memsim::scenarios::InputError);
  CHECK(others(dir, {"target.txt", "link.txt", "dangling.txt", "later.txt", "loop-a", "loop-b"})
            .empty());
}

TEST_CASE("a character device is written in place, never replaced") {
  const fs::path dir = fresh_folder("device");
  const fs::path device = dir / "null";
  if (::mknod(device.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {  // like /dev/null
    MESSAGE("skipped: this machine may not make a device node here (" << std::strerror(errno)
                                                                      << ")");
    return;
  }
  write_hello(device.string());
  const struct stat st = status_of(device);
  CHECK(S_ISCHR(st.st_mode));
  CHECK(st.st_rdev == makedev(1, 3));
  CHECK(others(dir, {"null"}).empty());
}

TEST_CASE("a FIFO is written in place for its reader") {
  const fs::path dir = fresh_folder("fifo");
  const fs::path fifo = dir / "pipe";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::string received;
  std::thread reader([&] { received = read_text(fifo); });
  write_hello(fifo.string());
  reader.join();
  CHECK(received == "hello\n");
  CHECK(S_ISFIFO(status_of(fifo).st_mode));
  CHECK(others(dir, {"pipe"}).empty());
}

TEST_CASE("directories and missing folders are refused at the flag") {
  const fs::path dir = fresh_folder("refused");
  CHECK_THROWS_WITH_AS(write_hello(dir.string()), doctest::Contains("is a directory"),
                       memsim::scenarios::InputError);
  CHECK_THROWS_WITH_AS(write_hello((dir / "no" / "out.txt").string()),
                       doctest::Contains("no such folder"), memsim::scenarios::InputError);
  CHECK(others(dir, {}).empty());
}

TEST_CASE("a writer that fails leaves the old file and no temporary file") {
  const fs::path dir = fresh_folder("failed-writer");
  const fs::path file = dir / "out.txt";
  write_text(file, "old\n");
  CHECK_THROWS_AS(write_output(file.string(),
                               [](std::ostream& out) {
                                 out << std::string(1 << 20, 'x');  // past the buffer: on disk
                                 throw std::runtime_error("the writer failed");
                               }),
                  std::runtime_error);
  CHECK(read_text(file) == "old\n");
  CHECK(others(dir, {"out.txt"}).empty());
}

TEST_CASE("a failed write throws at once and names what could not be written") {
  const int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  memsim::tools::FdOstream out(fd, "/dev/full", false);
  CHECK_THROWS_WITH_AS(
      {
        out << std::string(1 << 17, 'x');
        out.finish();
      },
      "cannot write to /dev/full: No space left on device", memsim::tools::OutputError);
  ::close(fd);
}

TEST_CASE("a stop signal while a file is written removes the temporary file") {
  memsim::tools::install_signal_handlers();
  const fs::path dir = fresh_folder("signal");
  const fs::path file = dir / "out.txt";
  write_text(file, "old\n");
  CHECK_THROWS_AS(write_output(file.string(),
                               [](std::ostream& out) {
                                 out << "first rows\n";
                                 std::raise(SIGTERM);  // recorded: the output is deferred
                                 out << std::string(1 << 20, 'x');
                               }),
                  memsim::tools::Interrupted);
  CHECK(memsim::tools::stop_signal() == SIGTERM);
  memsim::tools::clear_stop_signal();
  CHECK(read_text(file) == "old\n");
  CHECK(others(dir, {"out.txt"}).empty());
}

TEST_CASE("memsim: a full stdout exits 1 with a message; a closed pipe ends quietly") {
  const std::string scenario = memsim::testing::source_path("scenarios/llama3-70b-64xh100.yaml");
  auto full = memsim::testing::run_shell("\"$MEMSIM\" run " + scenario + " > /dev/full");
  CHECK(full.exit_code == 1);
  CHECK(full.err == "memsim: error: cannot write to standard output: No space left on device\n");

  // The sweep streams far more than `head` reads; memsim ends with SIGPIPE's status, silently.
  auto piped = memsim::testing::run_shell("\"$MEMSIM\" sweep " + scenario +
                                          " | head -1 >/dev/null; exit ${PIPESTATUS[0]}");
  CHECK(piped.exit_code == 128 + SIGPIPE);
  CHECK(piped.err.find("error") == std::string::npos);
}

TEST_CASE("memsim sweep: SIGTERM in the middle writes nothing and leaves no temporary file") {
  const fs::path dir = fresh_folder("sweep-sigterm");
  const std::string scenario = memsim::testing::long_sweep_scenario("output/sweep-sigterm");
  const fs::path csv = dir / "rows.csv";
  const pid_t pid =
      memsim::testing::spawn_memsim({"sweep", scenario, "-o", csv.string(), "--threads", "2"});
  REQUIRE(!memsim::testing::wait_for_temporary_file(csv.string(), 10000).empty());
  ::kill(pid, SIGTERM);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 128 + SIGTERM);
  CHECK(others(dir, {"long-sweep.yaml"}).empty());  // no rows.csv, no temporary file
}
