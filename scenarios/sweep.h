#pragma once
/// A scenario's `sweep:` grid: dotted keys mapped to lists of values, every combination a
/// point (the last key varying fastest), filtered by `where:` constraints. Each value is
/// read once into a plan (with the scenario's own checks and locations); a point is the base
/// plan with each key's field copied from the plan of its value, then resolved and checked.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "scenarios/config_tree.h"
#include "scenarios/diagnostics.h"
#include "scenarios/scenario.h"
#include "scenarios/scenario_keys.h"
#include "strategies/layout.h"
#include "strategies/plan.h"

namespace memsim::scenarios {

struct SweepAxis {
  std::string key;
  const ScenarioKey* setter = nullptr;
  std::vector<std::string> labels;      ///< each value as written
  std::vector<bool> numeric;            ///< whether a label is a number (for JSON)
  std::vector<strategies::Plan> plans;  ///< the base with each value, unresolved
};

/// `a.b * c.d <= 64`: two sums of products of keys and numbers, compared.
class Constraint {
 public:
  /// Parses `text`; problems go to `diagnostics` at `where`.
  static Constraint parse(const std::string& text, const Location& where, Diagnostics& diagnostics);
  bool holds(const strategies::Plan& plan) const;
  const std::string& text() const { return text_; }
  /// "where: TEXT", why a point that breaks it is skipped.
  const std::string& reason() const { return reason_; }

 private:
  struct Product {
    double factor = 1.0;
    std::vector<const ScenarioKey*> keys;
  };
  double side(const std::vector<Product>& sum, const strategies::Plan& plan) const;

  std::string text_;
  std::string reason_;
  std::vector<Product> left_;
  std::vector<Product> right_;
  std::string op_;
};

class Sweep {
 public:
  Sweep(strategies::Plan base, std::vector<SweepAxis> axes, std::vector<Constraint> where);

  const std::vector<SweepAxis>& axes() const { return axes_; }
  const std::vector<Constraint>& where() const { return where_; }
  uint64_t points() const { return points_; }
  const strategies::Plan& base() const { return base_; }
  /// The value index of each axis at point `index`.
  void coordinates(uint64_t index, std::vector<size_t>& out) const;
  /// Makes `plan` point `index`: `plan` must start as a copy of base() and only ever be
  /// given to this function (only the swept fields and the resolved ones are reset).
  void apply(uint64_t index, strategies::Plan& plan) const;
  /// apply(), then resolves the plan (dp: auto, the global batch) and checks it: returns
  /// why the point is skipped (a layout problem, a broken `where:`), or "" when it is valid.
  std::string_view prepare(uint64_t index, strategies::Plan& plan) const;

 private:
  friend class SweepPlan;
  /// Copies the fields of the axes from the `first`th in the order they apply to the end.
  void apply_from(size_t first, const std::vector<size_t>& coordinates,
                  strategies::Plan& plan) const;
  /// Resolves and checks a plan the axes have made (see prepare).
  std::string_view resolve(strategies::Plan& plan) const;
  /// Why a resolved plan with `problems` is skipped, or "".
  std::string_view judge(const strategies::Plan& plan, strategies::LayoutProblems problems) const;

  strategies::Plan base_;
  std::vector<SweepAxis> axes_;
  std::vector<Constraint> where_;
  uint64_t points_ = 1;
  std::vector<uint64_t> strides_;    ///< per axis: points between its successive values
  std::vector<size_t> application_;  ///< the axes in the order apply() copies them
  /// Per axis: the first place in application_ of it or any axis after it, where applying
  /// starts again when it changes (the axes after it change with it).
  std::vector<size_t> reapply_from_;
  /// The first place in application_ from which every axis applied changes only the global
  /// batch (its values' plans are the base but for it): a point that applies no axis before
  /// it keeps the last point's parallel layout (strategies::resolve_parallel_layout).
  size_t batch_only_from_ = 0;
};

/// A plan taken through one sweep's points, for sweeping them in order: a point applies
/// again only the axes that changed since the last one (and those that apply after them),
/// and finds the next point's values by counting, not by dividing the point's index.
/// Each point comes out as Sweep::prepare makes it.
class SweepPlan {
 public:
  explicit SweepPlan(const Sweep& sweep);
  /// Makes the plan point `index` of the sweep: why it is skipped, or "" (Sweep::prepare).
  std::string_view prepare(uint64_t index);
  const strategies::Plan& plan() const { return plan_; }
  /// Whether the plan differs from the last point's only in its global batch (the axes
  /// applied again change nothing else: Sweep's batch-only axes).
  bool only_batch_changed() const { return only_batch_changed_; }

 private:
  const Sweep* sweep_;
  strategies::Plan plan_;
  /// The fields resolving fills in, as the axes left them.
  int64_t unresolved_dp_ = 0;
  /// What resolve_parallel_layout found at the last point resolved whole.
  strategies::LayoutProblems parallel_problems_;
  int64_t unresolved_global_batch_ = 0;
  uint64_t index_ = 0;               ///< the point the plan is at
  bool applied_ = false;             ///< whether it is at any point yet
  bool only_batch_changed_ = false;  ///< at the last prepare (only_batch_changed())
  std::vector<size_t> coordinates_;  ///< the point's value of each axis
};

/// Reads `sweep` (and `where`, possibly null) for the variant configured by `config`.
Sweep read_sweep(const ConfigNode& sweep, const ConfigNode& where, const ConfigNode& config,
                 const std::string& scenario_dir, Diagnostics& diagnostics);

/// One variant's grid; a scenario with `compare:` sweeps every variant's grid in turn.
struct VariantSweep {
  std::string name;
  Sweep sweep;
};

/// The grid of each variant of `scenario` (only `only` when not empty). Throws InputError
/// when the scenario has no `sweep:` or it is invalid.
std::vector<VariantSweep> read_sweeps(const Scenario& scenario, const std::string& only = "");

}  // namespace memsim::scenarios
