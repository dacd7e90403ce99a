#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "strategies/checkpointing.h"
#include "tools/report_writers.h"
#include "tools/text_table.h"

namespace memsim::tools {

namespace {

std::string where(const sim::PeakMoment& moment, int64_t layers) {
  std::string text(sim::phase_name(moment.phase));
  if (moment.layer == sim::kEmbeddingLayer) {
    text += ", embedding";
  } else if (moment.layer == layers) {
    text += ", LM head and loss";
  } else if (moment.layer != sim::kNoIndex) {
    text += fmt::format(", layer {}", moment.layer);
  }
  if (moment.microbatch != sim::kNoIndex) text += fmt::format(", microbatch {}", moment.microbatch);
  return text;
}

std::string fit_text(const strategies::TrainingReport& r, UnitSystem units) {
  if (r.fits) return "yes, " + format_bytes(r.capacity - r.peak, units) + " free";
  if (r.peak <= r.capacity) return "NO, host memory too small";
  return "NO, " + format_bytes(r.peak - r.capacity, units) + " over";
}

/// The rank with the largest peak (the first of them).
const strategies::RankReport& peak_rank(const strategies::TrainingReport& r) {
  const strategies::RankReport* best = &r.ranks.front();
  for (const auto& rank : r.ranks) {
    if (rank.memory.peak > best->memory.peak) best = &rank;
  }
  return *best;
}

TextTable summary(const ScenarioOutcome& outcome, UnitSystem units) {
  std::vector<std::string> header = {""};
  for (const VariantOutcome& v : outcome.variants)
    header.push_back(v.variant->name);
  TextTable table(header);
  auto row = [&](const std::string& label, auto cell) {
    std::vector<std::string> cells = {label};
    for (const VariantOutcome& v : outcome.variants)
      cells.push_back(cell(v));
    table.add_row(std::move(cells));
  };
  row("model", [](const VariantOutcome& v) {
    return fmt::format("{} ({} params)", v.variant->plan.model.name,
                       format_count(v.report.parameters));
  });
  row("GPUs", [](const VariantOutcome& v) {
    return fmt::format("{} × {}", v.report.world_size, v.variant->plan.cluster.gpu.name);
  });
  row("layout", [](const VariantOutcome& v) {
    const auto& p = v.variant->plan.parallel;
    std::string text = fmt::format("tp {}{} · pp {} · dp {}", p.tp.degree,
                                   p.tp.sequence_parallel ? "+sp" : "", p.pp.stages, p.dp.degree);
    if (p.dp.zero > 0) text += fmt::format(", ZeRO-{}", p.dp.zero);
    if (p.dp.offload != strategies::Offload::kNone) {
      text += fmt::format(", offload {}", strategies::offload_name(p.dp.offload));
    }
    return text;
  });
  row("precision, optimizer", [](const VariantOutcome& v) {
    return fmt::format("{}, {}", v.variant->plan.precision.info().name,
                       v.variant->plan.training.optimizer.name);
  });
  row("checkpointing",
      [](const VariantOutcome& v) { return strategies::describe(v.variant->plan.checkpointing); });
  row("batch", [](const VariantOutcome& v) {
    const auto& t = v.variant->plan.training;
    return fmt::format("{} × {} tokens, {} microbatches", t.micro_batch, t.seq_len,
                       v.report.microbatches);
  });
  row("peak per GPU", [&](const VariantOutcome& v) {
    return fmt::format("{} (rank {})", format_bytes(v.report.peak, units),
                       peak_rank(v.report).placement.rank);
  });
  row("capacity", [&](const VariantOutcome& v) { return format_bytes(v.report.capacity, units); });
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
  row("peak reached in", [](const VariantOutcome& v) {
    return where(peak_rank(v.report).memory.peak_moment, v.variant->plan.model.layers);
  });
  row("activations / microbatch", [&](const VariantOutcome& v) {
    return format_bytes(peak_rank(v.report).memory.activations_per_microbatch, units);
  });
  row("step time (estimate)",
      [](const VariantOutcome& v) { return fmt::format("{:.2f} s", v.report.step_time_s); });
  row("pipeline bubble", [](const VariantOutcome& v) {
    return fmt::format("{:.1f}%", 100.0 * v.report.bubble_fraction);
  });
  row("tokens/s, MFU", [](const VariantOutcome& v) {
    return fmt::format("{:.0f}, {:.1f}%", v.report.tokens_per_s,
                       100.0 * v.report.model_flops_utilization);
  });
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
  const std::string gpu = v.variant->plan.cluster.gpu.name;
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

template <typename Render>
void write(const ScenarioOutcome& outcome, UnitSystem units, std::ostream& out, bool markdown,
           Render render) {
  const scenarios::Scenario& s = *outcome.scenario;
  out << (markdown ? "### " : "") << s.name << (markdown ? "\n\n" : "\n") << "(" << s.path
      << ")\n\n";
  render(summary(outcome, units), out);
  for (const VariantOutcome& v : outcome.variants) {
    out << '\n'
        << (markdown ? "#### " : "") << "Ranks of " << v.variant->name << ":\n"
        << (markdown ? "\n" : "");
    render(ranks_table(v, units), out);
  }
  out << '\n';
  for (const VariantOutcome& v : outcome.variants) {
    out << (markdown ? "- " : "") << verdict(v, units) << '\n';
  }
  if (outcome.variants.size() > 1) out << '\n' << summary_line(outcome) << '\n';
}

}  // namespace

void write_report_table(const ScenarioOutcome& outcome, UnitSystem units, std::ostream& out) {
  write(outcome, units, out, false,
        [](const TextTable& table, std::ostream& o) { table.render_text(o); });
}

void write_report_markdown(const ScenarioOutcome& outcome, UnitSystem units, std::ostream& out) {
  write(outcome, units, out, true,
        [](const TextTable& table, std::ostream& o) { table.render_markdown(o); });
}

}  // namespace memsim::tools
