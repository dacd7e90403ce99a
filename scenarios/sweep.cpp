#include "scenarios/sweep.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "scenarios/layout_problems.h"
#include "scenarios/plan_reader.h"
#include "scenarios/section_reader.h"
#include "strategies/layout.h"
#include "strategies/tensor_parallel.h"

namespace memsim::scenarios {

namespace {

using strategies::Plan;

bool is_number(const std::string& text) {
  double value = 0.0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && ptr == text.data() + text.size() && !text.empty();
}

/// `auto` for tp or pp: every value the model and cluster allow.
std::vector<int64_t> automatic_values(const std::string& key, const Plan& base) {
  const int64_t world = base.cluster.world_size();
  const sim::ModelSpec& m = base.model;
  std::vector<int64_t> values;
  for (int64_t d = 1; d <= world; ++d) {
    if (world % d != 0) continue;
    if (key == "parallel.tp" && strategies::splits_model(m, d)) values.push_back(d);
    if (key == "parallel.pp" && d <= m.layers) values.push_back(d);
  }
  return values;
}

/// Adds one value of `axis`: the variant's configuration with the value set, read.
void add_value(SweepAxis& axis, const ConfigNode& config, const ConfigNode& value,
               const std::string& dir, Diagnostics& diagnostics) {
  ConfigNode with_value = config;
  set_dotted(with_value, axis.key, value);
  expand_shorthands(with_value);  // `model: NAME` and the like keep their meaning

  std::vector<Diagnostic> warnings;
  if (auto plan = read_plan(with_value, dir, diagnostics, warnings, false)) {
    axis.labels.push_back(flow_text(value));
    axis.numeric.push_back(value.is_scalar() && is_number(value.scalar));
    axis.plans.push_back(std::move(*plan));
  }
}

}  // namespace

Constraint Constraint::parse(const std::string& text, const Location& where,
                             Diagnostics& diagnostics) {
  Constraint c;
  c.text_ = text;
  c.reason_ = "where: " + text;
  // Tokens: names (dotted keys), numbers, and the operators * + < <= == != >= >.
  std::vector<std::string> tokens;
  for (size_t i = 0; i < text.size();) {
    const char ch = text[i];
    if (std::isspace(static_cast<unsigned char>(ch))) {
      ++i;
    } else if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.') {
      size_t j = i;
      while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) ||
                                 text[j] == '_' || text[j] == '.')) {
        ++j;
      }
      tokens.push_back(text.substr(i, j - i));
      i = j;
    } else if (text.compare(i, 2, "<=") == 0 || text.compare(i, 2, ">=") == 0 ||
               text.compare(i, 2, "==") == 0 || text.compare(i, 2, "!=") == 0) {
      tokens.push_back(text.substr(i, 2));
      i += 2;
    } else if (ch == '<' || ch == '>' || ch == '*' || ch == '+') {
      tokens.emplace_back(1, ch);
      ++i;
    } else {
      diagnostics.error(where, fmt::format("where: '{}': unexpected '{}'", text, ch));
      return c;
    }
  }
  std::vector<Product>* side = &c.left_;
  bool expect_operand = true;
  for (const std::string& token : tokens) {
    const bool comparison = token == "<" || token == "<=" || token == "==" || token == "!=" ||
                            token == ">=" || token == ">";
    if (expect_operand) {
      // An operand multiplies the current product ('+' and a comparison start a new one).
      Product* product = side->empty() ? &side->emplace_back() : &side->back();
      if (is_number(token)) {
        product->factor *= std::stod(token);
      } else if (const ScenarioKey* key = find_sweep_key(token); key != nullptr && key->number) {
        product->keys.push_back(key);
      } else {
        diagnostics.error(where, fmt::format("where: '{}': '{}' is not a number or a numeric "
                                             "scenario key",
                                             text, token));
        return c;
      }
      expect_operand = false;
    } else if (token == "*") {
      expect_operand = true;
    } else if (token == "+") {
      side->emplace_back();
      expect_operand = true;
    } else if (comparison && c.op_.empty()) {
      c.op_ = token;
      side = &c.right_;
      expect_operand = true;
    } else {
      diagnostics.error(where, fmt::format("where: '{}': unexpected '{}'", text, token));
      return c;
    }
  }
  if (c.op_.empty() || expect_operand || c.right_.empty()) {
    diagnostics.error(where, fmt::format("where: '{}': expected two sides and a comparison, such "
                                         "as 'parallel.tp * parallel.pp <= 16'",
                                         text));
  }
  return c;
}

double Constraint::side(const std::vector<Product>& sum, const Plan& plan) const {
  double total = 0.0;
  for (const Product& product : sum) {
    double value = product.factor;
    for (const ScenarioKey* key : product.keys)
      value *= key->number(plan);
    total += value;
  }
  return total;
}

bool Constraint::holds(const Plan& plan) const {
  const double a = side(left_, plan);
  const double b = side(right_, plan);
  if (op_ == "<") return a < b;
  if (op_ == "<=") return a <= b;
  if (op_ == "==") return a == b;
  if (op_ == "!=") return a != b;
  if (op_ == ">=") return a >= b;
  return a > b;
}

Sweep::Sweep(Plan base, std::vector<SweepAxis> axes, std::vector<Constraint> where)
    : base_(std::move(base)), axes_(std::move(axes)), where_(std::move(where)) {
  strides_.resize(axes_.size());
  for (size_t a = axes_.size(); a-- > 0;) {
    strides_[a] = points_;
    points_ = static_cast<uint64_t>(sim::checked_mul(static_cast<int64_t>(points_),
                                                     static_cast<int64_t>(axes_[a].plans.size())));
  }
  // A section's axis (`precision`) copies the whole section: its keys' axes
  // (`precision.gradients`) come after it, so that each point keeps both.
  auto depth = [&](size_t a) { return std::count(axes_[a].key.begin(), axes_[a].key.end(), '.'); };
  application_.resize(axes_.size());
  std::iota(application_.begin(), application_.end(), size_t{0});
  std::stable_sort(application_.begin(), application_.end(),
                   [&](size_t a, size_t b) { return depth(a) < depth(b); });
  reapply_from_.assign(axes_.size(), application_.size());
  for (size_t place = 0; place < application_.size(); ++place)
    reapply_from_[application_[place]] = place;
  for (size_t a = axes_.size(); a-- > 1;)
    reapply_from_[a - 1] = std::min(reapply_from_[a - 1], reapply_from_[a]);
  auto batch_only = [&](const SweepAxis& axis) {
    return std::all_of(axis.plans.begin(), axis.plans.end(), [&](Plan plan) {
      plan.training.global_batch = base_.training.global_batch;
      plan.training.global_batch_auto = base_.training.global_batch_auto;
      return plan == base_;
    });
  };
  batch_only_from_ = application_.size();
  while (batch_only_from_ > 0 && batch_only(axes_[application_[batch_only_from_ - 1]]))
    --batch_only_from_;
}

void Sweep::coordinates(uint64_t index, std::vector<size_t>& out) const {
  out.resize(axes_.size());
  for (size_t a = axes_.size(); a-- > 0;) {
    const uint64_t n = axes_[a].plans.size();
    out[a] = static_cast<size_t>(index % n);
    index /= n;
  }
}

void Sweep::apply(uint64_t index, Plan& plan) const {
  // Fields that resolving a point fills in start again from the base.
  plan.parallel.dp.degree = base_.parallel.dp.degree;
  plan.training.global_batch = base_.training.global_batch;
  std::vector<size_t> values;
  coordinates(index, values);
  apply_from(0, values, plan);
}

void Sweep::apply_from(size_t first, const std::vector<size_t>& values, Plan& plan) const {
  for (size_t place = first; place < application_.size(); ++place) {
    const size_t a = application_[place];
    axes_[a].setter->copy(plan, axes_[a].plans[values[a]]);
  }
}

std::string_view Sweep::resolve(Plan& plan) const {
  return judge(plan, strategies::resolve_layout(plan));
}

std::string_view Sweep::judge(const Plan& plan, strategies::LayoutProblems problems) const {
  problems = strategies::layout_errors(problems);
  if (problems.any()) {
    size_t reason = 0;
    while (!problems.test(reason))
      ++reason;
    return layout_summary(static_cast<strategies::LayoutReason>(reason));
  }
  for (const Constraint& c : where_) {
    if (!c.holds(plan)) return c.reason();
  }
  return {};
}

std::string_view Sweep::prepare(uint64_t index, Plan& plan) const {
  apply(index, plan);
  return resolve(plan);
}

SweepPlan::SweepPlan(const Sweep& sweep)
    : sweep_(&sweep),
      plan_(sweep.base()),
      unresolved_dp_(sweep.base().parallel.dp.degree),
      unresolved_global_batch_(sweep.base().training.global_batch) {}

std::string_view SweepPlan::prepare(uint64_t index) {
  const std::vector<SweepAxis>& axes = sweep_->axes_;
  size_t first = 0;  // where applying starts again
  if (applied_ && index == index_ + 1 && !axes.empty()) {
    // The next point: the last axis moves on, and carries into the ones before it.
    size_t a = axes.size() - 1;
    while (++coordinates_[a] == axes[a].plans.size() && a > 0) {
      coordinates_[a] = 0;
      --a;
    }
    first = sweep_->reapply_from_[a];
  } else if (!applied_ || index != index_) {
    sweep_->coordinates(index, coordinates_);
  } else {
    first = sweep_->application_.size();  // the same point again
  }
  // Only the global batch changes: dp stays as resolved, and so does the parallel layout.
  const bool same_layout = applied_ && first >= sweep_->batch_only_from_;
  only_batch_changed_ = same_layout;
  if (!same_layout) plan_.parallel.dp.degree = unresolved_dp_;
  plan_.training.global_batch = unresolved_global_batch_;
  sweep_->apply_from(first, coordinates_, plan_);
  if (!same_layout) unresolved_dp_ = plan_.parallel.dp.degree;
  unresolved_global_batch_ = plan_.training.global_batch;
  index_ = index;
  applied_ = true;
  if (!same_layout) parallel_problems_ = strategies::resolve_parallel_layout(plan_);
  return sweep_->judge(plan_, strategies::resolve_batch(plan_, parallel_problems_));
}

Sweep read_sweep(const ConfigNode& sweep, const ConfigNode& where, const ConfigNode& config,
                 const std::string& scenario_dir, Diagnostics& diagnostics) {
  std::vector<Diagnostic> warnings;
  std::optional<Plan> base = read_plan(config, scenario_dir, diagnostics, warnings, false);
  std::vector<SweepAxis> axes;
  if (!sweep.is_map()) {
    diagnostics.error(sweep.where, "sweep must map dotted keys to lists of values");
  } else {
    std::vector<std::string> names;
    for (const ScenarioKey& k : scenario_keys()) {
      if (k.copy != nullptr) names.emplace_back(k.key);
    }
    for (const ConfigNode::Entry& e : sweep.entries) {
      const ScenarioKey* setter = find_sweep_key(e.key);
      if (setter == nullptr && e.key == "framework") {
        // A profile is laid under a whole configuration before it is read, not set on a plan.
        diagnostics.error(e.key_where,
                          "sweep: framework is not swept; compare: variants may each name "
                          "one (compare: [{name: hf, framework: hf}])");
        continue;
      }
      if (setter == nullptr) {
        const std::string hint = nearest_spelling(e.key, names);
        diagnostics.error(
            e.key_where,
            fmt::format("sweep: unknown key '{}'{}", e.key,
                        hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
        continue;
      }
      SweepAxis axis{e.key, setter, {}, {}, {}};
      const bool automatic = e.value.is_scalar() && e.value.scalar == "auto";
      if (automatic && base && (e.key == "parallel.tp" || e.key == "parallel.pp")) {
        for (int64_t d : automatic_values(e.key, *base)) {
          ConfigNode value;
          value.kind = ConfigNode::Kind::kScalar;
          value.where = e.value.where;
          value.scalar = std::to_string(d);
          add_value(axis, config, value, scenario_dir, diagnostics);
        }
      } else if (automatic && e.key == "parallel.dp") {
        add_value(axis, config, e.value, scenario_dir, diagnostics);
      } else if (e.value.is_sequence() && !e.value.items.empty()) {
        for (const ConfigNode& value : e.value.items) {
          add_value(axis, config, value, scenario_dir, diagnostics);
        }
      } else {
        diagnostics.error(
            e.value.where,
            fmt::format("sweep: {} needs a non-empty list of values{}", e.key,
                        e.key == "parallel.tp" || e.key == "parallel.pp" || e.key == "parallel.dp"
                            ? " or auto"
                            : ""));
      }
      axes.push_back(std::move(axis));
    }
  }
  std::vector<Constraint> constraints;
  if (!where.is_null()) {
    if (!where.is_sequence()) {
      diagnostics.error(where.where, "where must be a list of constraints");
    } else {
      for (const ConfigNode& item : where.items) {
        if (!item.is_scalar()) {
          diagnostics.error(item.where,
                            "where: each constraint is a string such as "
                            "'parallel.tp * parallel.pp <= 16'");
          continue;
        }
        constraints.push_back(Constraint::parse(item.scalar, item.where, diagnostics));
      }
    }
  }
  diagnostics.throw_if_any();
  try {
    return Sweep(std::move(*base), std::move(axes), std::move(constraints));
  } catch (const sim::OverflowError&) {
    throw InputError(sweep.where, "sweep: the grid has more than 2^63 points");
  }
}

std::vector<VariantSweep> read_sweeps(const Scenario& scenario, const std::string& only) {
  if (scenario.sweep.is_null()) {
    throw InputError({scenario.path, 1, 1},
                     "the scenario has no sweep: mapping; add one such as "
                     "'sweep: {parallel.tp: [1, 2, 4], training.micro_batch: [1, 2]}'");
  }
  const std::string dir = std::filesystem::path(scenario.path).parent_path().string();
  std::vector<VariantSweep> sweeps;
  for (size_t i = 0; i < scenario.variants.size(); ++i) {
    if (!only.empty() && scenario.variants[i].name != only) continue;
    Diagnostics diagnostics;
    sweeps.push_back(
        {scenario.variants[i].name,
         read_sweep(scenario.sweep, scenario.where, scenario.configs[i], dir, diagnostics)});
  }
  return sweeps;
}

}  // namespace memsim::scenarios
