#include "evaluation/chunk_profile.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "sim/check.h"
#include "sim/microbatch_recipe.h"
#include "strategies/pipeline.h"
#include "strategies/strategy_pass.h"

namespace memsim::evaluation {

namespace {

/// Builds a pass's candidate prefixes: after each op's allocations (its start). Two rules
/// drop a candidate that can never be the only fullest, whatever the sizes:
/// - dominance: another holds at least as much of every quantity;
/// - betweenness: the same op of successive identical layers gives candidates on a line
///   (a + k·step); a linear form is largest at an end of a segment, so only the first and
///   the last of a run are kept. Candidates are grouped by op position (`group`) for this.
/// Counts are kept only for the quantities the pass touches (a chunk's pass touches about a
/// third of the model's), which the rules compare for every candidate.
class PassBuilder {
 public:
  /// `touched`: the quantities the pass adds to or takes from, in increasing order.
  PassBuilder(int quantities, int context_quantities, std::vector<int> touched)
      : running_(touched.size(), 0),
        context_quantities_(context_quantities),
        ids_(std::move(touched)),
        place_(quantities, -1) {
    for (size_t i = 0; i < ids_.size(); ++i)
      place_[ids_[i]] = static_cast<int>(i);
  }

  void add(int quantity, int64_t sign) {
    running_[place_[quantity]] += sign;
    running_total_ += sign;
  }
  void candidate(int64_t group) {
    // Holding at least as much of every quantity needs at least as much in all: the totals
    // rule most pairs out at once.
    for (const size_t i : alive_) {
      const Candidate& c = candidates_[i];
      if (c.total >= running_total_ && dominates(c.counts, running_)) return;
    }
    std::erase_if(alive_, [&](size_t i) {
      const Candidate& c = candidates_[i];
      return running_total_ >= c.total && dominates(running_, c.counts) && drop(i);
    });
    // Members whose storage was dropped (and maybe taken since) are gone.
    std::vector<Member>& members = groups_[group];
    std::erase_if(members, [&](const Member& m) {
      return !candidates_[m.index].alive || candidates_[m.index].order != m.order;
    });
    if (members.size() >= 2 && between(candidates_[members[members.size() - 2].index].counts,
                                       candidates_[members.back().index].counts, running_)) {
      const size_t last = members.back().index;
      members.pop_back();
      std::erase(alive_, last);
      drop(last);
    }
    // A dropped candidate's storage takes the new one.
    size_t slot = candidates_.size();
    if (free_.empty()) {
      candidates_.emplace_back();
    } else {
      slot = free_.back();
      free_.pop_back();
    }
    candidates_[slot] = {running_, running_total_, true, order_};
    members.push_back({slot, order_++});
    alive_.push_back(slot);
  }
  PassProfile finish() {
    PassProfile profile;
    std::vector<int64_t> zero(running_.size(), 0);
    const std::vector<int64_t>* before = &zero;
    std::sort(alive_.begin(), alive_.end(),
              [&](size_t a, size_t b) { return candidates_[a].order < candidates_[b].order; });
    for (const size_t i : alive_) {
      const Candidate& c = candidates_[i];
      std::vector<int64_t> difference(c.counts.size());
      for (size_t q = 0; q < difference.size(); ++q)
        difference[q] = c.counts[q] - (*before)[q];
      auto [context, stage] = split(difference);
      profile.context_peaks.steps.push_back(std::move(context));
      profile.stage_peaks.steps.push_back(std::move(stage));
      before = &c.counts;
    }
    std::tie(profile.context_net, profile.stage_net) = split(running_);
    return profile;
  }

 private:
  struct Candidate {
    std::vector<int64_t> counts;
    int64_t total = 0;  ///< of counts
    bool alive = false;
    int64_t order = 0;  ///< its place in the pass
  };

  bool drop(size_t i) {
    candidates_[i].alive = false;
    free_.push_back(i);
    return true;
  }

  /// Whether a holds at least b of every quantity. The quantity that last showed otherwise
  /// is looked at first: successive candidates differ in the few quantities the ops between
  /// them touched, so most tests that fail, fail there.
  bool dominates(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
    auto holds = [&](size_t from, size_t to) {
      for (size_t i = from; i < to; ++i) {
        if (a[i] < b[i]) {
          hint_ = i;
          return false;
        }
      }
      return true;
    };
    return holds(hint_, a.size()) && holds(0, hint_);
  }
  /// Whether b lies on the segment from a to c: c − b is a positive multiple of b − a.
  static bool between(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                      const std::vector<int64_t>& c) {
    size_t k = 0;
    while (k < a.size() && b[k] == a[k])
      ++k;
    if (k == a.size()) return true;  // b equals a
    const int64_t u_k = b[k] - a[k];
    const int64_t w_k = c[k] - b[k];
    if (w_k == 0 || (w_k > 0) != (u_k > 0)) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if ((b[i] - a[i]) * w_k != (c[i] - b[i]) * u_k) return false;
    }
    return true;
  }
  /// The terms of the context's quantities, and of the stage's.
  std::pair<LinearForm, LinearForm> split(const std::vector<int64_t>& dense) const {
    std::pair<LinearForm, LinearForm> parts;
    for (size_t i = 0; i < dense.size(); ++i) {
      if (dense[i] == 0) continue;
      const int q = ids_[i];
      LinearForm& part = q < context_quantities_ ? parts.first : parts.second;
      part.terms.emplace_back(static_cast<int32_t>(q), dense[i]);
    }
    return parts;
  }

  std::vector<int64_t> running_;  ///< per touched quantity
  int64_t running_total_ = 0;
  int context_quantities_;
  size_t hint_ = 0;         ///< where dominates() last failed
  std::vector<int> ids_;    ///< each touched quantity's id
  std::vector<int> place_;  ///< each quantity's place among the touched (-1: untouched)
  std::vector<Candidate> candidates_;
  std::vector<size_t> alive_;  ///< indices into candidates_
  std::vector<size_t> free_;   ///< dropped candidates' indices, for reuse
  int64_t order_ = 0;
  struct Member {
    size_t index;
    int64_t order;
  };
  std::map<int64_t, std::vector<Member>> groups_;  ///< candidates by op position
};

/// The quantities marked, in increasing order.
std::vector<int> marked(const std::vector<bool>& marks) {
  std::vector<int> ids;
  for (size_t q = 0; q < marks.size(); ++q) {
    if (marks[q]) ids.push_back(static_cast<int>(q));
  }
  return ids;
}

/// Whether each op of a pass offers a candidate. A pass runs layer after layer; where a
/// block of layers repeats unchanged (the same ops, allocating and freeing the same
/// quantities), each repeat starts where the one before started plus the same counts, so
/// an op's candidates in successive repeats lie on a line, and a linear form is largest at
/// an end of it: only the first and last repeats offer theirs. `key` gives what an op does
/// to the counts; ops of one layer in a row make a block, and repeats of up to kMostPeriod
/// blocks are looked for (full checkpointing every two layers repeats every two layers, and
/// its backward every three blocks: two recomputations with one backward, then one).
template <typename OpKey>
std::vector<bool> offering_ops(const std::vector<sim::RecipeOp>& ops, const OpKey& key) {
  constexpr size_t kMostPeriod = 4;
  std::vector<size_t> starts;  // each block's first op
  for (size_t i = 0; i < ops.size(); ++i) {
    if (i == 0 || ops[i].layer != ops[i - 1].layer || ops[i].layer == sim::kNoIndex)
      starts.push_back(i);
  }
  const size_t blocks = starts.size();
  starts.push_back(ops.size());
  // Each block's keys, one after another.
  std::vector<int64_t> keys;
  std::vector<size_t> key_starts;
  for (size_t b = 0; b < blocks; ++b) {
    key_starts.push_back(keys.size());
    for (size_t i = starts[b]; i < starts[b + 1]; ++i)
      key(ops[i], keys);
  }
  key_starts.push_back(keys.size());
  auto same_blocks = [&](size_t a, size_t b) {
    return std::equal(keys.begin() + key_starts[a], keys.begin() + key_starts[a + 1],
                      keys.begin() + key_starts[b], keys.begin() + key_starts[b + 1]);
  };
  std::vector<bool> offers(ops.size(), true);
  auto repeats = [&](size_t at, size_t period) {
    size_t count = 1;
    auto repeat_again = [&] {
      for (size_t q = 0; q < period; ++q) {
        if (!same_blocks(at + q, at + count * period + q)) return false;
      }
      return true;
    };
    while (at + (count + 1) * period <= blocks && repeat_again())
      ++count;
    return count;
  };
  for (size_t at = 0; at < blocks;) {
    size_t period = 0;
    size_t count = 0;
    for (size_t p = 1; p <= kMostPeriod && count < 3; ++p) {
      if (const size_t c = repeats(at, p); c >= 3) std::tie(period, count) = std::pair(p, c);
    }
    if (count < 3) {
      ++at;
      continue;
    }
    std::fill(offers.begin() + starts[at + period],
              offers.begin() + starts[at + (count - 1) * period], false);
    at += count * period;
  }
  return offers;
}

/// The GPU's candidate prefixes of a pass: after each op's allocations. Its backward ops
/// make their parameters' gradients unless they live all step (`gradients`).
PassProfile profile_pass(const std::vector<sim::RecipeOp>& ops, const sim::MicrobatchRecipe& recipe,
                         const sim::RankProgram& program, sim::GradientLifetime lifetime) {
  const sim::LayerGraph& graph = *program.graph;
  const sim::QuantityIndex& index = *program.index;
  const bool makes = lifetime != sim::GradientLifetime::kWholeStep;
  const bool frees = lifetime == sim::GradientLifetime::kOpBackward;
  // A backward (not a recomputation, nor an input step) makes its parameters' gradients.
  auto weights = [](const sim::RecipeOp& op) {
    return op.phase == sim::Phase::kBackward && op.part != sim::BackwardPart::kInputs;
  };
  auto gradients = [&](const sim::RecipeOp& op) {
    return makes && weights(op) ? index.parameter_gradients(graph.twin_slot(op.op)) : -1;
  };
  auto freed = [&](const sim::RecipeOp& op) {
    return frees && weights(op) ? index.freed_gradients(graph.twin_slot(op.op)) : -1;
  };
  // A backward that makes no gradients finds them made, and adds fresh ones to them.
  auto added = [&](const sim::RecipeOp& op) {
    return !makes && weights(op) ? index.added_gradients(graph.twin_slot(op.op)) : -1;
  };
  auto waiting = [&](const sim::RecipeOp& op) {
    return !makes && weights(op) ? index.waiting_gradients(graph.twin_slot(op.op)) : -1;
  };
  std::vector<int> waited;  ///< the waiting quantities made so far, freed as the pass ends
  std::vector<bool> touched(index.count(), false);
  for (const sim::RecipeOp& op : ops) {
    if (const int q = gradients(op); q >= 0) touched[q] = true;
    if (const int q = freed(op); q >= 0) touched[q] = true;
    if (const int q = added(op); q >= 0) touched[q] = true;
    if (const int q = waiting(op); q >= 0) touched[q] = true;
    for (uint32_t i = op.begin; i < op.end; ++i) {
      if (!recipe.deltas[i].host) touched[recipe.deltas[i].quantity] = true;
    }
  }
  auto group = [&](const sim::RecipeOp& op) {
    return 8 * static_cast<int64_t>(graph.twin_slot(op.op)) + static_cast<int64_t>(op.phase);
  };
  const std::vector<bool> offers =
      offering_ops(ops, [&](const sim::RecipeOp& op, std::vector<int64_t>& signature) {
        signature.push_back(group(op));
        signature.push_back(gradients(op));
        signature.push_back(freed(op));
        signature.push_back(added(op));
        signature.push_back(waiting(op));
        signature.push_back(op.split - op.begin);
        for (uint32_t i = op.begin; i < op.end; ++i) {
          const sim::RecipeDelta& d = recipe.deltas[i];
          if (!d.host) signature.push_back(d.sign * (int64_t{d.quantity} + 1));
        }
      });
  PassBuilder builder(index.count(), index.context_count(), marked(touched));
  for (size_t o = 0; o < ops.size(); ++o) {
    const sim::RecipeOp& op = ops[o];
    if (const int q = gradients(op); q >= 0) builder.add(q, 1);
    if (const int q = added(op); q >= 0) builder.add(q, 1);
    if (const int q = waiting(op); q >= 0) {
      builder.add(q, 1);
      waited.push_back(q);
    }
    for (uint32_t i = op.begin; i < op.split; ++i) {
      const sim::RecipeDelta& d = recipe.deltas[i];
      MEMSIM_CHECK(d.sign > 0);  // an op allocates before it frees
      if (!d.host) builder.add(d.quantity, 1);
    }
    if (offers[o]) builder.candidate(group(op));
    for (uint32_t i = op.split; i < op.end; ++i) {
      const sim::RecipeDelta& d = recipe.deltas[i];
      if (d.host) continue;
      MEMSIM_CHECK(d.sign < 0);
      builder.add(d.quantity, -1);
    }
    if (const int q = freed(op); q >= 0) builder.add(q, -1);
    if (const int q = added(op); q >= 0) builder.add(q, -1);
  }
  for (const int q : waited)
    builder.add(q, -1);
  return builder.finish();
}

/// Host memory's candidate prefixes of a pass: activations arrive there as an op ends.
PassProfile profile_host_pass(const std::vector<sim::RecipeOp>& ops,
                              const sim::MicrobatchRecipe& recipe,
                              const sim::RankProgram& program) {
  const sim::QuantityIndex& index = *program.index;
  std::vector<bool> touched(index.count(), false);
  for (const sim::RecipeOp& op : ops) {
    for (uint32_t i = op.begin; i < op.end; ++i) {
      if (recipe.deltas[i].host) touched[recipe.deltas[i].quantity] = true;
    }
  }
  PassBuilder builder(index.count(), index.context_count(), marked(touched));
  for (const sim::RecipeOp& op : ops) {
    for (uint32_t i = op.begin; i < op.end; ++i) {
      const sim::RecipeDelta& d = recipe.deltas[i];
      if (d.host) builder.add(d.quantity, d.sign);
    }
    builder.candidate(8 * static_cast<int64_t>(program.graph->twin_slot(op.op)) +
                      static_cast<int64_t>(op.phase));
  }
  return builder.finish();
}

}  // namespace

void FormChain::evaluate(const std::vector<int64_t>& quantities, std::vector<int64_t>& out) const {
  out.resize(steps.size());
  int64_t sum = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    sum += steps[i].evaluate(quantities);
    out[i] = sum;
  }
}

void FormChain::evaluate(const std::vector<int64_t>& first, const std::vector<int64_t>& second,
                         std::vector<int64_t>& out_first, std::vector<int64_t>& out_second) const {
  out_first.resize(steps.size());
  out_second.resize(steps.size());
  int64_t a = 0;
  int64_t b = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    const auto [da, db] = steps[i].evaluate(first, second);
    out_first[i] = a += da;
    out_second[i] = b += db;
  }
}

void apply_recipe_settings(const RecipeSettings& settings, sim::RankProgram& program) {
  program.held.clear();
  program.recompute.clear();
  program.host_moves = {};
  program.split_backward = settings.split_backward;
  program.keep_stage_outputs = false;
  shape_chunks(settings, program);
}

ChunkProfile profile_chunk(const sim::LayerGraph& graph, const sim::QuantityIndex& index,
                           const ChunkForm& form) {
  sim::RankProgram program;  // sizes and times are not read: zeros
  program.graph = &graph;
  program.index = &index;
  program.sizes.assign(index.count(), sim::Bytes{});
  program.op_times.assign(graph.op_count(), {});
  program.chunks = {chunk_span(graph, form.shape)};
  apply_recipe_settings(form.settings, program);
  const sim::MicrobatchRecipe recipe = sim::compile_recipe(program, 0);
  ChunkProfile profile;
  profile.forward =
      profile_pass(recipe.forward, recipe, program, sim::GradientLifetime::kWholeStep);
  profile.backward =
      profile_pass(recipe.backward, recipe, program, sim::GradientLifetime::kWholeStep);
  if (form.gradients != sim::GradientLifetime::kWholeStep)
    profile.first_backward = profile_pass(recipe.backward, recipe, program, form.gradients);
  profile.split = form.settings.split_backward;
  if (profile.split) {
    profile.input =
        profile_pass(recipe.backward_input, recipe, program, sim::GradientLifetime::kWholeStep);
    profile.weight =
        profile_pass(recipe.backward_weight, recipe, program, sim::GradientLifetime::kWholeStep);
    if (form.gradients != sim::GradientLifetime::kWholeStep) {
      profile.first_weight = profile_pass(recipe.backward_weight, recipe, program, form.gradients);
    }
  }
  profile.inputs_take_gradients = !form.shape.embedding;
  profile.host_forward = profile_host_pass(recipe.forward, recipe, program);
  profile.host_backward = profile_host_pass(recipe.backward, recipe, program);
  profile.offloads = std::any_of(recipe.deltas.begin(), recipe.deltas.end(),
                                 [](const sim::RecipeDelta& d) { return d.host; });
  profile.runs = op_runs(program, 0);
  return profile;
}

}  // namespace memsim::evaluation
