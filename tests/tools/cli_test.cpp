// What the command line does beyond rejecting bad input (tests/catalogue has those): help,
// --variant judged alone, warnings said once, nothing narrowed or made up in silence.

#include <csignal>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "scenarios/framework_profiles.h"
#include "support/test_support.h"

namespace {

using memsim::testing::run_memsim;

const char* kTiny = R"(name: tiny
model: {layers: 2, hidden: 64, heads: 4, ffn: 256, vocab: 1000}
hardware: {gpu: a100-80gb}
training: {seq_len: 128}
)";

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
    ++n;
  return n;
}

}  // namespace

TEST_CASE("memsim help lists the commands; help COMMAND its flags") {
  auto result = run_memsim({"help"});
  CHECK(result.exit_code == 0);
  for (const char* command : {"run", "check", "sweep", "fit", "timeline", "models", "hardware"})
    CHECK(result.out.find(std::string("\n  ") + command + " ") != std::string::npos);
  result = run_memsim({"help", "sweep"});
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("--max-points N") != std::string::npos);
  CHECK(result.out.find("--maximize") == std::string::npos);
  result = run_memsim({"sweep", "--help"});
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("--max-points N") != std::string::npos);
}

TEST_CASE("--variant NAME is judged on the base and that variant alone") {
  const std::string path = memsim::testing::source_path(
      "tests/catalogue/inputs/bad-variant-elsewhere.yaml");  // variant 'bad' has zero: 9
  auto result = run_memsim({"run", path, "--variant", "good", "--format", "json"});
  CHECK(result.exit_code == 0);
  const auto doc = nlohmann::json::parse(result.out);
  REQUIRE(doc["variants"].size() == 1);
  CHECK(doc["variants"][0]["name"] == "good");
  CHECK(run_memsim({"run", path, "--variant", "base"}).exit_code == 0);
  CHECK(run_memsim({"run", path}).exit_code == 2);
}

TEST_CASE("a warning shared by every variant is said once") {
  // ZeRO on one GPU without offload shards nothing: a warning, in the base and both variants.
  const std::string path = memsim::testing::write_temp_file(
      "cli/warning.yaml", std::string(kTiny) +
                              "parallel: {zero: 1}\ncompare:\n  - {name: a, checkpointing: full}\n"
                              "  - {name: b, checkpointing: selective}\n");
  const auto result = run_memsim({"run", path});
  CHECK(result.exit_code == 0);
  CHECK(count(result.err, "warning: parallel.zero = 1 with dp = 1 shards nothing") == 1);
}

TEST_CASE("a timeline draws the base unless --variant names another, and says so") {
  const std::string path = memsim::testing::write_temp_file(
      "cli/timeline.yaml",
      std::string(kTiny) + "compare:\n  - {name: ckpt, checkpointing: full}\n");
  auto result = run_memsim({"timeline", path});
  CHECK(result.exit_code == 0);
  CHECK(result.err ==
        "timeline of variant 'base' (the scenario has 2; --variant NAME chooses another)\n");
  result = run_memsim({"timeline", path, "--variant", "ckpt"});
  CHECK(result.exit_code == 0);
  CHECK(result.err.empty());
}

TEST_CASE("an inference report has no training settings, and counts passes from 0") {
  const std::string path = memsim::testing::write_temp_file("cli/serving.yaml", R"(mode: inference
model: {layers: 2, hidden: 64, heads: 4, ffn: 256, vocab: 1000}
hardware: {gpu: a100-80gb}
inference: {batch: 2, prompt_len: 512, generate_len: 4, prefill_chunk: 128, logits: all}
)");
  auto result = run_memsim({"run", path, "--format", "json"});
  REQUIRE(result.exit_code == 0);
  const auto variant = nlohmann::json::parse(result.out)["variants"][0];
  for (const char* key :
       {"schedule", "bubble_fraction", "model_flops_utilization", "precision", "optimizer",
        "checkpointing", "seq_len", "micro_batch", "global_batch", "microbatches"}) {
    CAPTURE(key);
    CHECK(variant[key].is_null());
  }
  // The peak's pass, as JSON numbers it, is what the table names.
  const int pass = variant["ranks"][0]["peak_at"]["microbatch"].get<int>();
  result = run_memsim({"run", path});
  REQUIRE(result.exit_code == 0);
  const std::string name =
      pass < 4 ? "prefill chunk " + std::to_string(pass)
               : "decode step " + std::to_string(pass - 4) + " (pass " + std::to_string(pass) + ")";
  CHECK(result.out.find(name) != std::string::npos);
  result = run_memsim({"run", path, "--format", "csv"});
  CHECK(result.out.find("\nseq_len,\n") != std::string::npos);
}

TEST_CASE("a config.json key memsim does not know is a warning; the known ones are quiet") {
  const std::string dir = memsim::testing::source_path("tests/fixtures/hf");
  auto result =
      run_memsim({"check", memsim::testing::source_path("tests/catalogue/inputs/base.yaml"),
                  "--set", "model={hf_config: " + dir + "/qwen2.5-32b.json}"});
  CHECK(result.exit_code == 0);
  CHECK(result.err.empty());
  const std::string config = memsim::testing::write_temp_file(
      "cli/config.json", R"({"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64,
 "num_attention_heads": 4, "intermediate_size": 256, "vocab_size": 1000, "frobnication": 3})");
  result = run_memsim({"check", memsim::testing::source_path("tests/catalogue/inputs/base.yaml"),
                       "--set", "model={hf_config: " + config + "}"});
  CHECK(result.exit_code == 0);
  CHECK(result.err.find("config.json:2:74: warning: \"frobnication\" is not a key memsim knows "
                        "for llama models and was ignored") != std::string::npos);
}

TEST_CASE("memsim sweep --top: Ctrl-C prints the best rows so far and exits 130") {
  const std::string scenario = memsim::testing::long_sweep_scenario("cli");
  const std::string csv = scenario + ".csv";
  const pid_t pid =
      memsim::testing::spawn_memsim({"sweep", scenario, "--top", "5", "--threads", "2", "-o", csv});
  ::usleep(1'500'000);  // well into a sweep of 11.5 million points
  ::kill(pid, SIGINT);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  const auto rows = memsim::testing::run_shell("cat " + csv);
  CHECK(count(rows.out, "\n") == 6);  // the header and the five best so far
}

TEST_CASE("a scenario named after a file name that is not UTF-8 still gives valid JSON") {
  std::string text = kTiny;
  text.erase(0, text.find('\n') + 1);  // no name: the file's name stands for it
  const std::string path = memsim::testing::write_temp_file("cli/caf\xE9.yaml", text);
  for (const char* command : {"run", "fit"}) {
    std::vector<std::string> args = {command, path, "--format", "json"};
    if (std::string(command) == "fit") args.insert(args.end(), {"--maximize", "training.seq_len"});
    const auto result = run_memsim(args);
    CAPTURE(command);
    REQUIRE(result.exit_code == 0);
    const auto doc = nlohmann::json::parse(result.out);
    if (doc.contains("scenario")) CHECK(doc["scenario"] == "caf\xEF\xBF\xBD");
  }
}

TEST_CASE("the README's common flags work on every command that lists them, and only there") {
  std::ifstream readme(memsim::testing::source_path("README.md"));
  std::string line;
  while (std::getline(readme, line) && !line.starts_with("<!-- flags by command")) {
  }
  const auto cells = [](const std::string& row) {
    std::vector<std::string> out;
    std::istringstream in(row);
    std::string cell;
    std::getline(in, cell, '|');  // before the first bar
    while (std::getline(in, cell, '|')) {
      cell.erase(0, cell.find_first_not_of(' '));
      cell.erase(cell.find_last_not_of(' ') + 1);
      out.push_back(cell);
    }
    if (!out.empty() && out.back().empty()) out.pop_back();
    return out;
  };
  REQUIRE(std::getline(readme, line));
  const std::vector<std::string> commands = cells(line);  // "flag", then the commands
  REQUIRE(commands.size() == 9);
  std::getline(readme, line);  // | --- |
  const std::string scenario =
      memsim::testing::source_path("tests/catalogue/inputs/sweep.yaml");  // valid, with a sweep
  const std::string output = memsim::testing::write_temp_file("cli/flags/out.txt", "");
  int tried = 0;
  while (std::getline(readme, line) && line.starts_with("| `")) {
    const std::vector<std::string> row = cells(line);
    REQUIRE(row.size() == commands.size());
    const std::string flag = row[0].substr(
        1, row[0].find(' ') == std::string::npos ? row[0].size() - 2 : row[0].find(' ') - 1);
    for (size_t c = 1; c < row.size(); ++c) {
      std::vector<std::string> base = {commands[c]};
      if (commands[c] == "hardware" && row[c] == "with --for") base.push_back("--for");
      if (commands[c] != "models" && (commands[c] != "hardware" || row[c] == "with --for"))
        base.push_back(scenario);
      if (commands[c] == "fit") base.insert(base.end(), {"--maximize", "training.micro_batch"});
      std::vector<std::vector<std::string>> uses;  // the flag with its values
      if (flag == "--format") {
        std::istringstream formats(row[c]);
        for (std::string f; formats >> f;)
          uses.push_back({"--format", f});
      } else if (flag == "-o") {
        uses.push_back({"-o", output});
      } else if (flag == "--set") {
        uses.push_back({"--set", "training.seq_len=256"});
      } else if (flag == "--variant") {
        uses.push_back({"--variant", "base"});
      } else if (flag == "--units") {
        uses.push_back({"--units", "si"});
      } else {
        uses.push_back({flag});
      }
      for (const auto& use : uses) {
        std::vector<std::string> args = base;
        args.insert(args.end(), use.begin(), use.end());
        std::string command;
        for (const auto& a : args)
          command += a + " ";
        CAPTURE(command);
        const int code = memsim::testing::run_memsim(args).exit_code;
        if (row[c] == "-") {
          CHECK(code == 2);
        } else {
          CHECK((code == 0 || code == 3));
        }
        ++tried;
      }
    }
  }
  CHECK(tried > 50);
}

TEST_CASE("every framework profile runs through run, sweep, fit and timeline") {
  for (const std::string& framework : memsim::scenarios::framework_names()) {
    CAPTURE(framework);
    const std::string path = memsim::testing::write_temp_file(
        "framework-" + framework + ".yaml",
        "framework: " + framework +
            "\nmodel: {layers: 2, hidden: 64, heads: 4, kv_heads: 2, ffn: 176, vocab: 1000, "
            "norm: rmsnorm, ffn_type: swiglu}\n"
            "hardware: {gpu: a100-80gb, gpus_per_node: 2}\n"
            "training: {seq_len: 128, micro_batch: 1, global_batch: 4}\n"
            "parallel: {dp: 2}\n"
            "sweep: {training.micro_batch: [1, 2]}\n");
    const auto run = run_memsim({"run", path, "--format", "json"});
    CHECK(run.exit_code == 0);
    CHECK(nlohmann::json::parse(run.out)["variants"].size() == 1);
    const auto sweep = run_memsim({"sweep", path});
    CHECK(sweep.exit_code == 0);
    CHECK(count(sweep.out, "\n") == 3);  // the header and two points
    const auto fit = run_memsim({"fit", path, "--maximize", "training.micro_batch"});
    CHECK(fit.exit_code == 0);
    const auto timeline = run_memsim({"timeline", path});
    CHECK(timeline.exit_code == 0);
    CHECK(timeline.out.find("backward") != std::string::npos);
  }
}
