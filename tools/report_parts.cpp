#include "tools/report_parts.h"

#include <algorithm>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "strategies/checkpointing.h"
#include "strategies/data_parallel.h"

namespace memsim::tools {

namespace {

/// "prefill", "prefill chunk k" or "decode step k (pass n)" for inference's pass `index`,
/// counted from 0 as JSON's and CSV's `microbatch` counts passes.
std::string pass_name(int32_t index, const strategies::Inference& inference) {
  const int32_t prefill = strategies::prefill_passes(inference);
  if (index >= prefill) return fmt::format("decode step {} (pass {})", index - prefill, index);
  return prefill == 1 ? "prefill" : fmt::format("prefill chunk {}", index);
}

std::string where(const sim::PeakMoment& moment, const VariantOutcome& v) {
  const int64_t layers = v.variant->plan.model.layers;
  const bool serving = v.report.inference.has_value();
  std::string text = serving && moment.microbatch != sim::kNoIndex
                         ? pass_name(moment.microbatch, v.variant->plan.inference)
                         : std::string(sim::phase_name(moment.phase));
  if (moment.layer == sim::kEmbeddingLayer) {
    text += ", embedding";
  } else if (moment.layer == layers) {
    text += ", LM head and loss";
  } else if (moment.layer != sim::kNoIndex) {
    text += fmt::format(", layer {}", moment.layer);
  }
  if (moment.microbatch != sim::kNoIndex && !serving) {
    text += fmt::format(", microbatch {}", moment.microbatch);
  }
  return text;
}

bool serving(const VariantOutcome& v) {
  return v.report.inference.has_value();
}

/// What the peak must stay under: the capacity, or its usable share when serving.
sim::Bytes limit(const evaluation::Report& r) {
  return r.inference ? r.inference->usable : r.capacity;
}

std::string fit_text(const evaluation::Report& r, UnitSystem units) {
  if (r.fits) return "yes, " + format_bytes(limit(r) - r.peak, units) + " free";
  if (r.peak <= limit(r)) return "NO, host memory too small";
  return "NO, " + format_bytes(r.peak - limit(r), units) + " over";
}

/// The rank with the largest peak (the first of them).
const evaluation::RankReport& peak_rank(const evaluation::Report& r) {
  const evaluation::RankReport* best = &r.ranks.front();
  for (const auto& rank : r.ranks) {
    if (rank.memory.peak > best->memory.peak) best = &rank;
  }
  return *best;
}

/// "tp 4+sp · pp 2 · dp 8", then ZeRO and offload, each after `separator`:
/// ", " in the side-by-side table, a new line in the compact one.
std::string layout_text(const VariantOutcome& v, std::string_view separator) {
  const auto& p = v.variant->plan.parallel;
  std::string text = fmt::format("tp {}{} · pp {} · dp {}", p.tp.degree,
                                 p.tp.sequence_parallel ? "+sp" : "", p.pp.stages, p.dp.degree);
  if (strategies::sharded_by_fsdp(p.dp)) {
    text +=
        fmt::format("{}FSDP{}{}", separator, p.dp.sharding == strategies::Sharding::kFsdp2 ? 2 : 1,
                    p.dp.reshard_after_forward ? "" : " (no reshard)");
    if (p.dp.replicate > 1) text += fmt::format(" × {} replicas", p.dp.replicate);
  } else if (p.dp.zero > 0) {
    text += fmt::format("{}ZeRO-{}{}", separator, p.dp.zero,
                        strategies::gathers_modules(p.dp) ? " by module" : "");
  }
  if (p.dp.offload != strategies::Offload::kNone) {
    text += fmt::format("{}offload {}", separator, strategies::offload_name(p.dp.offload));
  }
  return text;
}

}  // namespace

namespace {

/// A row of the summary: a label, then a cell per variant.
class SummaryRows {
 public:
  SummaryRows(const ScenarioOutcome& outcome, TextTable& table)
      : outcome_(outcome),
        table_(table),
        any_serving_(std::any_of(outcome.variants.begin(), outcome.variants.end(), serving)),
        any_training_(!std::all_of(outcome.variants.begin(), outcome.variants.end(), serving)) {}

  template <class Cell>
  void operator()(const std::string& label, Cell cell) {
    std::vector<std::string> cells = {label};
    for (const VariantOutcome& v : outcome_.variants)
      cells.push_back(cell(v));
    table_.add_row(std::move(cells));
  }
  const ScenarioOutcome& outcome() const { return outcome_; }
  bool any_serving() const { return any_serving_; }
  bool any_training() const { return any_training_; }

 private:
  const ScenarioOutcome& outcome_;
  TextTable& table_;
  bool any_serving_;
  bool any_training_;
};

/// What each variant runs: model, GPUs, layout, precision, batch.
void setup_rows(SummaryRows& row) {
  const bool any_training = row.any_training();
  row("model", [](const VariantOutcome& v) {
    return fmt::format("{} ({} params)", v.variant->plan.model.name,
                       format_count(v.report.parameters));
  });
  row("GPUs", [](const VariantOutcome& v) {
    return fmt::format("{} × {}", v.report.world_size, v.variant->plan.cluster.gpu->name);
  });
  row("layout", [](const VariantOutcome& v) { return layout_text(v, ", "); });
  row("precision, optimizer", [](const VariantOutcome& v) {
    const auto& plan = v.variant->plan;
    if (!serving(v)) {
      return fmt::format("{}, {} ({})", plan.precision.info().name, plan.training.optimizer.name,
                         strategies::step_temporaries(plan.training.optimizer).name);
    }
    const auto& i = plan.inference;
    const auto& weights = strategies::weight_format_info(i.weights);
    return fmt::format("weights {}{}, embeddings {}, KV {}", weights.name,
                       weights.grouped ? fmt::format(" g{}", i.group_size) : "",
                       strategies::weight_format_info(i.embedding_format()).name,
                       strategies::kv_format_info(i.kv_cache).name);
  });
  if (any_training) {
    row("checkpointing", [](const VariantOutcome& v) {
      return serving(v) ? std::string("-")
                        : strategies::describe(v.variant->plan.training.chunk_passes.checkpointing);
    });
  }
  row("batch", [](const VariantOutcome& v) {
    if (serving(v)) {
      const auto& i = v.variant->plan.inference;
      return fmt::format("{} × ({} prompt + {} generated) tokens", i.batch, i.prompt_len,
                         i.generate_len);
    }
    const auto& t = v.variant->plan.training;
    return fmt::format("{} × {} tokens, {} microbatches", t.micro_batch, t.seq_len,
                       v.report.microbatches);
  });
}

/// Its memory: the peak and its breakdown, what fits, host memory, overheads.
void memory_rows(SummaryRows& row, UnitSystem units) {
  const ScenarioOutcome& outcome = row.outcome();
  const bool any_serving = row.any_serving();
  const bool any_training = row.any_training();
  row("peak per GPU", [&](const VariantOutcome& v) {
    return fmt::format("{} (rank {})", format_bytes(v.report.peak, units),
                       peak_rank(v.report).placement.rank);
  });
  row("capacity", [&](const VariantOutcome& v) { return format_bytes(v.report.capacity, units); });
  if (any_serving) {
    row("usable when serving", [&](const VariantOutcome& v) {
      if (!serving(v)) return std::string("-");
      return fmt::format("{} ({:g}%)", format_bytes(v.report.inference->usable, units),
                         100.0 * v.variant->plan.inference.memory_utilization);
    });
  }
  row("fits", [&](const VariantOutcome& v) { return fit_text(v.report, units); });
  for (sim::Category c : sim::kAllCategories) {
    bool any = false;
    for (const VariantOutcome& v : outcome.variants) {
      any = any || peak_rank(v.report).memory.at_peak[c].value() != 0;
    }
    if (!any) continue;
    row(fmt::format("  {}", sim::category_name(c)), [&](const VariantOutcome& v) {
      return format_bytes(peak_rank(v.report).memory.at_peak[c], units);
    });
  }
  bool offloads = false;
  for (const VariantOutcome& v : outcome.variants)
    offloads = offloads || v.report.cpu_bytes_per_node.value() > 0;
  if (offloads) {
    row("host memory per node", [&](const VariantOutcome& v) {
      return fmt::format("{} of {}{}", format_bytes(v.report.cpu_bytes_per_node, units),
                         format_bytes(v.report.cpu_capacity_per_node, units),
                         v.report.cpu_fits ? "" : " (does NOT fit)");
    });
  }
  row("overhead: CUDA, NCCL, reserve", [&](const VariantOutcome& v) {
    const auto& o = peak_rank(v.report).overheads;
    return fmt::format("{} + {} + {}", format_amount(o.cuda_context, units),
                       format_amount(o.communication, units),
                       format_amount(o.allocator_reserve, units));
  });
  row("peak reached in",
      [](const VariantOutcome& v) { return where(peak_rank(v.report).memory.peak_moment, v); });
  if (any_training) {
    row("activations / microbatch", [&](const VariantOutcome& v) {
      if (serving(v)) return std::string("-");
      return format_bytes(peak_rank(v.report).memory.activations_per_microbatch, units);
    });
  }
}

/// Its speed, and for serving how far it could grow.
void speed_rows(SummaryRows& row) {
  const bool any_serving = row.any_serving();
  const bool any_training = row.any_training();
  row("step time (estimate)", [](const VariantOutcome& v) {
    if (!serving(v)) return fmt::format("{:.2f} s", v.report.step_time_s);
    const auto& f = *v.report.inference;
    if (v.variant->plan.inference.generate_len == 0)
      return fmt::format("prefill {:.3f} s", f.prefill_s);
    return fmt::format("{:.2f} s: prefill {:.3f} s, last decode step {:.1f} ms",
                       v.report.step_time_s, f.prefill_s, 1e3 * f.last_decode_step_s);
  });
  if (any_training) {
    row("pipeline bubble", [](const VariantOutcome& v) {
      return fmt::format("{:.1f}%", 100.0 * v.report.bubble_fraction);
    });
  }
  row("tokens/s, MFU", [](const VariantOutcome& v) {
    if (serving(v)) {
      return fmt::format("{:.0f} (prompt and generated), -", v.report.tokens_per_s);
    }
    return fmt::format("{:.0f}, {:.1f}%", v.report.tokens_per_s,
                       100.0 * v.report.model_flops_utilization);
  });
  if (any_serving) {
    row("largest batch that fits", [](const VariantOutcome& v) {
      if (!v.capacity) return std::string("-");
      return fmt::format("{} at {} tokens", v.capacity->max_batch,
                         v.variant->plan.inference.context());
    });
    row("longest prompt that fits", [](const VariantOutcome& v) {
      if (!v.capacity) return std::string("-");
      return fmt::format("{} tokens at batch {}", v.capacity->max_prompt_len,
                         v.variant->plan.inference.batch);
    });
  }
}

}  // namespace

TextTable summary_table(const ScenarioOutcome& outcome, UnitSystem units) {
  std::vector<std::string> header = {""};
  for (const VariantOutcome& v : outcome.variants)
    header.push_back(v.variant->name);
  TextTable table(header);
  SummaryRows row(outcome, table);
  setup_rows(row);
  memory_rows(row, units);
  speed_rows(row);
  return table;
}

/// Consecutive ranks of one stage with identical memory share a row; parameters are the
/// group's largest share (TP rank 0 also accounts for the replicated tensors).
TextTable ranks_table(const VariantOutcome& v, UnitSystem units) {
  TextTable table({"ranks", "pp stage", "tp rank", "dp rank", "parameters", "peak", "fits"});
  const auto& ranks = v.report.ranks;
  for (size_t i = 0; i < ranks.size();) {
    size_t j = i + 1;
    while (j < ranks.size() && ranks[j].memory.peak == ranks[i].memory.peak &&
           ranks[j].memory.at_peak == ranks[i].memory.at_peak &&
           ranks[j].placement.pp_stage == ranks[i].placement.pp_stage) {
      ++j;
    }
    auto span = [&](auto field) {
      int64_t lo = field(ranks[i]);
      int64_t hi = lo;
      for (size_t k = i; k < j; ++k) {
        lo = std::min(lo, field(ranks[k]));
        hi = std::max(hi, field(ranks[k]));
      }
      return lo == hi ? fmt::format("{}", lo) : fmt::format("{}–{}", lo, hi);
    };
    table.add_row({span([](const auto& r) { return r.placement.rank; }),
                   span([](const auto& r) { return r.placement.pp_stage; }),
                   span([](const auto& r) { return r.placement.tp_rank; }),
                   span([](const auto& r) { return r.placement.dp_rank; }),
                   format_count(std::max_element(ranks.begin() + i, ranks.begin() + j,
                                                 [](const auto& x, const auto& y) {
                                                   return x.parameters < y.parameters;
                                                 })
                                    ->parameters),
                   format_bytes(ranks[i].memory.peak, units), ranks[i].fits ? "yes" : "NO"});
    i = j;
  }
  return table;
}

std::string verdict(const VariantOutcome& v, UnitSystem units) {
  const auto& r = v.report;
  const std::string gpu = v.variant->plan.cluster.gpu->name;
  if (serving(v)) {
    const std::string usable = fmt::format("the {} a serving engine may use ({:g}% of the {}'s {})",
                                           format_bytes(r.inference->usable, units),
                                           100.0 * v.variant->plan.inference.memory_utilization,
                                           gpu, format_bytes(r.capacity, units));
    if (r.fits) {
      return fmt::format("{}: fits. The fullest GPU peaks at {}, within {}.", v.variant->name,
                         format_bytes(r.peak, units), usable);
    }
    return fmt::format("{}: does not fit. The fullest GPU needs {}, {} more than {}.",
                       v.variant->name, format_bytes(r.peak, units),
                       format_bytes(r.peak - r.inference->usable, units), usable);
  }
  if (r.fits) {
    return fmt::format("{}: fits. The fullest GPU peaks at {}, leaving {} of the {}'s {}.",
                       v.variant->name, format_bytes(r.peak, units),
                       format_bytes(r.capacity - r.peak, units), gpu,
                       format_bytes(r.capacity, units));
  }
  if (r.peak <= r.capacity) {
    return fmt::format(
        "{}: does not fit. The GPUs hold their peak ({}), but each node must keep "
        "{} in host memory and has {}.",
        v.variant->name, format_bytes(r.peak, units), format_bytes(r.cpu_bytes_per_node, units),
        format_bytes(r.cpu_capacity_per_node, units));
  }
  int64_t over = 0;
  for (const auto& rank : r.ranks)
    over += rank.fits ? 0 : 1;
  return fmt::format(
      "{}: does not fit. {} of {} ranks run out of memory; the fullest needs {}, {} "
      "more than the {}'s {}.",
      v.variant->name, over, r.ranks.size(), format_bytes(r.peak, units),
      format_bytes(r.peak - r.capacity, units), gpu, format_bytes(r.capacity, units));
}

/// "Fits: a, b. Does not fit: c." over all variants.
std::string summary_line(const ScenarioOutcome& outcome) {
  std::vector<std::string> fit;
  std::vector<std::string> no_fit;
  for (const VariantOutcome& v : outcome.variants) {
    (v.report.fits ? fit : no_fit).push_back(v.variant->name);
  }
  auto join = [](const std::vector<std::string>& names) {
    return names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "));
  };
  return fmt::format("Fits: {}. Does not fit: {}.", join(fit), join(no_fit));
}

namespace {

/// The two categories largest at the fullest rank's peak, a line each.
std::string largest_at_peak(const VariantOutcome& v, UnitSystem units) {
  const sim::CategoryBytes& at = peak_rank(v.report).memory.at_peak;
  std::vector<sim::Category> order(sim::kAllCategories.begin(), sim::kAllCategories.end());
  std::stable_sort(order.begin(), order.end(),
                   [&](sim::Category a, sim::Category b) { return at[a] > at[b]; });
  return fmt::format("{} {}\n{} {}", sim::category_name(order[0]),
                     format_bytes(at[order[0]], units), sim::category_name(order[1]),
                     format_bytes(at[order[1]], units));
}

}  // namespace

/// A row per variant: what the side-by-side summary says first.
TextTable compact_table(const ScenarioOutcome& outcome, UnitSystem units) {
  TextTable table({"variant", "layout", "peak of capacity", "fits", "largest at peak", "step"});
  for (size_t c : {1, 3, 4})
    table.align_left(c);
  for (const VariantOutcome& v : outcome.variants) {
    const evaluation::Report& r = v.report;
    const std::string fits =
        r.fits               ? fmt::format("yes\n{} free", format_bytes(limit(r) - r.peak, units))
        : r.peak <= limit(r) ? std::string("NO\nhost memory")
                             : fmt::format("NO\n{} over", format_bytes(r.peak - limit(r), units));
    table.add_row(
        {v.variant->name, layout_text(v, "\n"),
         fmt::format("{}\nof {}", format_bytes(r.peak, units), format_bytes(limit(r), units)), fits,
         largest_at_peak(v, units), fmt::format("{:.2f} s", r.step_time_s)});
  }
  return table;
}

/// The variant whose breakdown a compact report shows: the fastest that fits, or the one
/// closest to fitting.
const VariantOutcome& featured(const ScenarioOutcome& outcome) {
  const auto key = [](const VariantOutcome& v) {
    const double over = static_cast<double>((v.report.peak - limit(v.report)).value());
    return std::pair{v.report.fits ? 0.0 : 1.0, v.report.fits ? v.report.step_time_s : over};
  };
  return *std::min_element(outcome.variants.begin(), outcome.variants.end(),
                           [&](const auto& a, const auto& b) { return key(a) < key(b); });
}

std::string suggestion_gain(const Suggestion& s, const VariantOutcome& v, UnitSystem units) {
  const double change = 100.0 * (s.step_time_s / v.report.step_time_s - 1.0);
  return fmt::format("peak {}, step {:+.1f}%", format_bytes(s.peak, units), change);
}

}  // namespace memsim::tools
