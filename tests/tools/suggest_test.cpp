// "How to make it fit": every suggestion for every shipped scenario's variants that do not
// fit, run as `memsim run --set ...` would read it, fits; suggestions change only strategy
// keys, never a kept one, and none is a superset of another.

#include "tools/suggest.h"

#include <filesystem>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "evaluation/evaluate.h"
#include "scenarios/scenario.h"
#include "support/test_support.h"

namespace {

std::vector<std::string> set_texts(const memsim::tools::Suggestion& s) {
  std::vector<std::string> sets;
  for (const auto& [key, value] : s.changes)
    sets.push_back(key + "=" + value);
  return sets;
}

bool subset(const memsim::tools::Suggestion& a, const memsim::tools::Suggestion& b) {
  for (const auto& change : a.changes) {
    const bool found = std::any_of(b.changes.begin(), b.changes.end(),
                                   [&](const auto& c) { return c.first == change.first; });
    if (!found) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("every suggestion for a shipped scenario's variant that does not fit makes it fit") {
  const auto strategy_keys = memsim::tools::suggestion_keys();
  int checked = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(memsim::testing::source_path("scenarios"))) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string path = entry.path().string();
    const auto scenario = memsim::scenarios::load_scenario(path);
    const std::string dir = entry.path().parent_path().string();
    for (size_t i = 0; i < scenario.variants.size(); ++i) {
      const auto& variant = scenario.variants[i];
      if (memsim::evaluation::evaluate(variant.plan).fits) continue;
      CAPTURE(path);
      CAPTURE(variant.name);
      const auto suggestions = memsim::tools::suggest(scenario.configs[i], dir, variant.plan, {});
      CHECK(suggestions.size() <= 3);
      for (size_t a = 0; a < suggestions.size(); ++a) {
        const auto& s = suggestions[a];
        CAPTURE(s.set_flags());
        // As `memsim run SCENARIO --variant NAME --set ...` reads and walks it.
        const auto fixed = memsim::scenarios::load_scenario(path, set_texts(s), variant.name);
        const auto report = memsim::evaluation::evaluate(fixed.variants.front().plan);
        CHECK(report.fits);
        CHECK(report.peak == s.peak);
        for (const auto& [key, value] : s.changes)
          CHECK(std::find(strategy_keys.begin(), strategy_keys.end(), key) != strategy_keys.end());
        for (size_t b = 0; b < suggestions.size(); ++b) {
          if (a != b) CHECK_FALSE(subset(suggestions[b], s));
        }
        if (a > 0) CHECK(suggestions[a - 1].step_time_s <= s.step_time_s);
        ++checked;
      }
    }
  }
  CHECK(checked >= 10);
}

TEST_CASE("a suggestion that changes more than another buys time, beyond rounding") {
  // Step times agree with the walk to about 1e-14: a change is worth saying only when it is
  // clearly faster than a suggestion it contains, whichever way rounding falls.
  const std::string path = memsim::testing::source_path("scenarios/deepseek-32b-4xa100.yaml");
  const auto scenario = memsim::scenarios::load_scenario(path);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  memsim::tools::SuggestOptions options;
  options.only_smallest = false;
  options.most = 20;
  int supersets = 0;
  for (size_t i = 0; i < scenario.variants.size(); ++i) {
    CAPTURE(scenario.variants[i].name);
    const auto suggestions =
        memsim::tools::suggest(scenario.configs[i], dir, scenario.variants[i].plan, options);
    for (const auto& more : suggestions) {
      for (const auto& fewer : suggestions) {
        if (&more == &fewer || !subset(fewer, more)) continue;
        CAPTURE(more.set_flags());
        CAPTURE(fewer.set_flags());
        CHECK(more.step_time_s < fewer.step_time_s * (1.0 - 1e-9));
        ++supersets;
      }
    }
  }
  CHECK(supersets >= 3);
}

TEST_CASE("memsim suggest: more suggestions, kept keys kept, --allow for more GPUs") {
  const std::string flagship = "scenarios/deepseek-32b-4xa100.yaml";
  auto count = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"suggest", flagship, "--variant", "base", "--format", "json"});
    const auto result = memsim::testing::run_memsim(args);
    REQUIRE(result.exit_code == 0);
    return nlohmann::json::parse(result.out)["variants"][0]["suggestions"].size();
  };
  // The smallest changes, then larger ones that buy time; more with more allowed; --top caps.
  CHECK(count({}) >= 2);
  CHECK(count({"--allow", "precision"}) > count({}));
  CHECK(count({"--allow", "precision", "--allow", "gpus", "--top", "8"}) == 8);
  auto result = memsim::testing::run_memsim(
      {"suggest", flagship, "--variant", "base", "--top", "8", "--format", "json"});
  REQUIRE(result.exit_code == 0);
  auto doc = nlohmann::json::parse(result.out);
  const auto& base = doc["variants"][0];
  CHECK(base["fits"] == false);
  for (const auto& s : base["suggestions"]) {
    CHECK(s["peak_bytes"].get<int64_t>() <= base["usable_bytes"].get<int64_t>());
    CHECK(s["yaml"].get<std::string>().starts_with("{"));
  }

  result = memsim::testing::run_memsim(
      {"suggest", flagship, "--variant", "base", "--keep", "parallel.offload", "--format", "json"});
  REQUIRE(result.exit_code == 0);
  doc = nlohmann::json::parse(result.out);
  for (const auto& s : doc["variants"][0]["suggestions"]) {
    for (const auto& set : s["set"])
      CHECK_FALSE(set.get<std::string>().starts_with("parallel.offload="));
  }

  // Four GPUs cannot hold the states of a 32B model without offload; eight or more can.
  result = memsim::testing::run_memsim({"suggest", flagship, "--variant", "base", "--keep",
                                        "parallel.offload", "--allow", "gpus", "--format", "json"});
  REQUIRE(result.exit_code == 0);
  doc = nlohmann::json::parse(result.out);
  bool more_nodes = false;
  for (const auto& s : doc["variants"][0]["suggestions"]) {
    for (const auto& set : s["set"])
      more_nodes = more_nodes || set.get<std::string>().starts_with("hardware.nodes=");
  }
  CHECK(more_nodes);

  result = memsim::testing::run_memsim({"suggest", flagship, "--variant", "zero3-offload+ckpt"});
  CHECK(result.out.find("fits as it is") != std::string::npos);
}
