#include "support/test_support.h"

#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <doctest/doctest.h>

#include "hardware/gpu_catalog.h"
#include "scenarios/model_presets.h"
#include "strategies/schedules.h"
#include "strategies/strategy_pass.h"

extern char** environ;

namespace memsim::testing {

namespace {

std::string quote(const std::string& arg) {
  std::string quoted = "'";
  for (char c : arg)
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// This run's scratch directory, removed with everything in it when the tests exit.
class TempDir {
 public:
  TempDir()
      : path_(std::filesystem::temp_directory_path() /
              ("memsim_tests." + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;  // a directory left behind is no reason to fail the run
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::filesystem::path temp_dir() {
  static const TempDir dir;
  return dir.path();
}

}  // namespace

strategies::Plan one_gpu_plan(const sim::ModelSpec& model, int64_t seq_len, int64_t micro_batch) {
  strategies::Plan plan;
  plan.model = model;
  plan.cluster.gpu = *hardware::find_gpu("a100-80gb");
  plan.training.seq_len = seq_len;
  plan.training.micro_batch = micro_batch;
  plan.training.global_batch = micro_batch;
  return plan;
}

strategies::Plan serving_plan(const std::string& model, int64_t batch, int64_t prompt,
                              int64_t generate) {
  strategies::Plan plan = one_gpu_plan(preset(model), 1);
  plan.mode = strategies::Mode::kInference;
  plan.inference.batch = batch;
  plan.inference.prompt_len = prompt;
  plan.inference.generate_len = generate;
  return plan;
}

sim::ModelSpec preset(const std::string& name) {
  const scenarios::ModelPreset* found = scenarios::find_preset(name);
  REQUIRE(found != nullptr);
  return found->spec;
}

Walk walk(const strategies::Plan& plan, int64_t rank) {
  const evaluation::CompiledPlan compiled(plan);
  Walk w;
  w.result = sim::simulate(compiled.program(rank), &w.timeline);
  return w;
}

std::vector<std::string> refusals(const strategies::Plan& plan) {
  std::vector<std::string> messages;
  for (const auto& check : strategies::pass_checks()) {
    if (check.fails(plan)) messages.push_back(check.message(plan));
  }
  return messages;
}

int64_t pass_net_bytes(const sim::MicrobatchRecipe& recipe, const std::vector<sim::RecipeOp>& ops,
                       const std::vector<sim::Bytes>& sizes) {
  int64_t sum = 0;
  for (const sim::RecipeOp& op : ops) {
    for (uint32_t i = op.begin; i < op.end; ++i) {
      if (!recipe.deltas[i].host) sum += sim::delta_bytes(recipe.deltas[i], sizes).value();
    }
  }
  return sum;
}

int64_t forward_activation_bytes(const sim::Timeline& timeline, int32_t layer) {
  int64_t bytes = 0;
  for (const sim::MemoryEvent& e : timeline.events()) {
    if (e.phase == sim::Phase::kForward && e.microbatch == 0 && e.layer == layer &&
        e.category == sim::Category::kActivations) {
      bytes += e.delta.value();
    }
  }
  return bytes;
}

namespace {

/// Runs the shell command `command`, capturing stdout, stderr and the exit code.
ProcessResult capture(std::string command) {
  const std::string err_path = (temp_dir() / "stderr.txt").string();
  command += " 2>";
  command += quote(err_path);
  ProcessResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[65536];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0)
    result.out.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.err = slurp(err_path);
  return result;
}

}  // namespace

ProcessResult run_memsim(const std::vector<std::string>& args, const std::string& memsim_hardware) {
  std::string command = "cd ";
  command += quote(MEMSIM_SOURCE_DIR);
  command += " && COLUMNS= MEMSIM_HARDWARE=";  // tables as wide as when not on a terminal
  command += quote(memsim_hardware);
  command += ' ';
  command += quote(MEMSIM_BINARY);
  for (const std::string& arg : args) {
    command += ' ';
    command += quote(arg);
  }
  return capture(command);
}

ProcessResult run_shell(const std::string& command) {
  return capture("cd " + quote(MEMSIM_SOURCE_DIR) + " && MEMSIM=" + quote(MEMSIM_BINARY) +
                 " COLUMNS= MEMSIM_HARDWARE= bash -c " + quote(command));
}

pid_t spawn_memsim(const std::vector<std::string>& args) {
  std::vector<std::string> words = {MEMSIM_BINARY};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& word : words)
    argv.push_back(word.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t quiet;  // what memsim says on stderr is not the test's output
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_addopen(&quiet, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, MEMSIM_BINARY, &quiet, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&quiet);
  REQUIRE(spawned == 0);
  return pid;
}

std::string source_path(const std::string& relative) {
  return (std::filesystem::path(MEMSIM_SOURCE_DIR) / relative).string();
}

std::string write_temp_file(const std::string& name, const std::string& text) {
  const auto path = temp_dir() / name;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

std::string long_sweep_scenario(const std::string& folder) {
  return write_temp_file(folder + "/long-sweep.yaml", R"(
model: {layers: 4, hidden: 256, heads: 8, ffn: 1024, vocab: 1000}
hardware: {gpu: a100-80gb, nodes: 8, gpus_per_node: 8}
training: {seq_len: 512, global_batch: 4096}
sweep:
  parallel.tp: auto
  parallel.pp: auto
  parallel.dp: auto
  parallel.zero: [0, 1, 2, 3]
  training.micro_batch: [1, 2, 4, 8, 16, 32, 64, 128]
  training.seq_len: [128, 256, 384, 512, 640, 768, 896, 1024, 1152, 1280]
  checkpointing: [none, selective, full]
  overhead.allocator_reserve: [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45]
  hardware.compute_efficiency: [0.3, 0.4, 0.5, 0.6, 0.7]
  precision: [bf16-mixed, fp16-mixed, fp32, bf16]
  training.optimizer: [{name: adamw}, {name: sgd}, {name: lion}, {name: adam8bit}, {name: adafactor}]
)");
}

std::string wait_for_temporary_file(const std::string& target, uintmax_t bytes) {
  const std::filesystem::path path(target);
  // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on a chain of + here.
  std::string prefix = ".";
  prefix += path.filename().string();
  prefix += ".memsim-";
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < give_up) {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(path.parent_path(), error)) {
      if (entry.path().filename().string().starts_with(prefix) && entry.file_size(error) >= bytes &&
          !error) {
        return entry.path().string();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return "";
}

std::string gpu_profile_yaml(const std::string& name, int64_t memory_mib) {
  return "  - name: " + name +
         "\n    description: test\n    memory_mib: " + std::to_string(memory_mib) +
         "\n    bf16_tflops: 100\n    hbm_gb_s: 1000\n    gpu_link_gb_s: 100\n"
         "    network_gb_s: 10\n    host_link_gb_s: 10\n    host_memory_gib: 64\n";
}

scenarios::Scenario scenario_from_text(const std::string& text, const std::string& name,
                                       const std::vector<std::string>& overrides) {
  return scenarios::read_scenario(scenarios::parse_yaml(text, name), name, overrides);
}

std::vector<scenarios::VariantSweep> sweeps_from_text(const std::string& text) {
  return scenarios::read_sweeps(scenario_from_text(text, "s.yaml"));
}

std::vector<scenarios::Diagnostic> diagnostics_of(const std::function<void()>& read) {
  try {
    read();
  } catch (const scenarios::InputError& e) {
    return e.diagnostics();
  }
  FAIL("expected an InputError");
  return {};
}

bool has_diagnostic(const std::vector<scenarios::Diagnostic>& diagnostics, int line, int column,
                    const std::string& part) {
  for (const scenarios::Diagnostic& d : diagnostics) {
    if (d.where.line == line && d.where.column == column &&
        d.message.find(part) != std::string::npos) {
      return true;
    }
  }
  return false;
}

evaluation::ScheduleOrder order_every_step(const std::string& schedule, int64_t p, int64_t v,
                                           int64_t m) {
  const auto* info = strategies::find_schedule(schedule);
  REQUIRE(info != nullptr);
  return evaluation::order_schedule(*info, strategies::every_stage_steps(*info, p, v, m), v);
}

void for_each_schedule_shape(
    const std::function<void(const std::string&, int64_t, int64_t, int64_t)>& check, int64_t most_v,
    const std::function<int64_t(int64_t)>& most_m) {
  for (int64_t p = 1; p <= 12; ++p) {
    for (int64_t m = 1; m <= 8 * p + 40; ++m) {
      check("1f1b", p, 1, m);
      check("gpipe", p, 1, m);
    }
    for (const int64_t m : {257, 1000})
      check("1f1b", p, 1, m);
    for (int64_t m = p; m <= most_m(p); m += p)
      check("zero-bubble", p, 1, m);
    if (p == 1) continue;
    for (int64_t v = 2; v <= most_v; ++v) {
      for (int64_t m = p; m <= most_m(p); m += p) {
        check("interleaved", p, v, m);
        check("interleaved-pytorch", p, v, m);
        check("zero-bubble", p, v, m);
      }
      if (v == 2) {
        for (int64_t m = 1; m <= 4 * p + 12; ++m) {
          check("zbv", p, v, m);
          if (m >= 2 * p) check("dualpipev", p, v, m);
        }
      }
      for (int64_t m = 1; m <= 2 * p + 3; ++m)
        check("looped-bfs", p, v, m);
    }
  }
}

}  // namespace memsim::testing
