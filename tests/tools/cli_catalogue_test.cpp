// Every case of tests/catalogue/cases.tsv through the command line's entry point, in this
// process: a bad input exits 2 with its expected first line on stderr, prints nothing on
// stdout and leaves no file where -o pointed (nor a temporary one beside it).

#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "hardware/gpu_catalog.h"
#include "scenarios/hardware_reader.h"
#include "support/test_support.h"
#include "tools/cli.h"

namespace {

namespace fs = std::filesystem;

struct Case {
  int line = 0;
  std::vector<std::string> args;
  std::string expected;
};

/// Words split at spaces; '...' quotes a word with spaces.
std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool quoted = false;
  bool any = false;
  for (char c : text) {
    if (c == '\'') {
      quoted = !quoted;
      any = true;
    } else if (c == ' ' && !quoted) {
      if (any) words.push_back(word);
      word.clear();
      any = false;
    } else {
      word += c;
      any = true;
    }
  }
  if (any) words.push_back(word);
  return words;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

std::vector<Case> read_cases(const std::map<std::string, std::string>& names) {
  std::ifstream in(memsim::testing::source_path("tests/catalogue/cases.tsv"));
  REQUIRE(in);
  std::vector<Case> cases;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line.front() == '#') continue;
    const size_t tab = line.find('\t');
    REQUIRE_MESSAGE(tab != std::string::npos, "cases.tsv:" << number << ": no tab");
    std::string args = line.substr(0, tab);
    std::string expected = line.substr(tab + 1);
    for (const auto& [name, value] : names) {
      args = replace_all(args, name, value);
      expected = replace_all(expected, name, value);
    }
    cases.push_back({number, split_words(args), expected});
  }
  return cases;
}

struct Outcome {
  int exit_code = 0;
  std::string out;
  std::string err;
};

/// Runs the command line with stdout (a descriptor) and std::cerr captured.
Outcome run_cli(const std::vector<std::string>& args, const fs::path& stdout_file) {
  std::vector<const char*> argv = {"memsim"};
  for (const std::string& a : args)
    argv.push_back(a.c_str());
  std::cout.flush();
  const int saved_stdout = ::dup(STDOUT_FILENO);
  const int captured = ::open(stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(captured >= 0);
  ::dup2(captured, STDOUT_FILENO);
  ::close(captured);
  std::ostringstream err;
  std::streambuf* saved_err = std::cerr.rdbuf(err.rdbuf());
  Outcome outcome;
  outcome.exit_code = memsim::tools::run_command_line(static_cast<int>(argv.size()), argv.data());
  std::cerr.rdbuf(saved_err);
  ::dup2(saved_stdout, STDOUT_FILENO);
  ::close(saved_stdout);
  std::ifstream printed(stdout_file);
  outcome.out.assign(std::istreambuf_iterator<char>(printed), std::istreambuf_iterator<char>());
  outcome.err = err.str();
  return outcome;
}

}  // namespace

TEST_CASE("the catalogue of bad inputs: exit 2, the expected message, no output") {
  const fs::path work =
      fs::path(memsim::testing::write_temp_file("catalogue/readonly.csv", "keep\n")).parent_path();
  const fs::path readonly = work / "readonly.csv";
  REQUIRE(::chmod(readonly.c_str(), 0444) == 0);
  const fs::path outputs = work / "outputs";
  fs::create_directories(outputs);
  const fs::path out = outputs / "out.txt";

  // The catalogue's messages name the inputs as the command lines do.
  const std::vector<Case> cases =
      read_cases({{"{in}", "tests/catalogue/inputs"}, {"{readonly}", readonly.string()}});
  CHECK(cases.size() >= 150);
  const char* hardware = std::getenv("MEMSIM_HARDWARE");
  const std::string saved_hardware = hardware == nullptr ? "" : hardware;
  ::unsetenv("MEMSIM_HARDWARE");
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    if (std::find(args.begin(), args.end(), "-o") == args.end()) {
      args.insert(args.end(), {"-o", out.string()});
    }
    const Outcome outcome = run_cli(args, work / "stdout.txt");
    const std::string first = outcome.err.substr(0, outcome.err.find('\n'));
    std::string command = "memsim";
    for (const std::string& a : args)
      command += " " + a;
    INFO("cases.tsv:" << c.line << ": " << command);
    CHECK(outcome.exit_code == 2);
    CHECK(first == c.expected);
    CHECK(outcome.out.empty());
    CHECK(fs::is_empty(outputs));
    std::ifstream kept(readonly);
    CHECK(std::string(std::istreambuf_iterator<char>(kept), {}) == "keep\n");
  }
  if (!saved_hardware.empty()) ::setenv("MEMSIM_HARDWARE", saved_hardware.c_str(), 1);
  // The command line installed its own catalog; the other tests see the built-in one.
  memsim::hardware::install_gpu_catalog(memsim::scenarios::builtin_gpu_catalog());
}
