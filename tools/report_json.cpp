#include <nlohmann/json.hpp>

#include "strategies/checkpointing.h"
#include "tools/report_writers.h"

namespace memsim::tools {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

ordered_json categories(const sim::CategoryBytes& bytes) {
  ordered_json out = ordered_json::object();
  for (sim::Category c : sim::kAllCategories)
    out[std::string(sim::category_name(c))] = bytes[c].value();
  return out;
}

ordered_json index_or_null(int32_t index) {
  return index == sim::kNoIndex ? ordered_json(nullptr) : ordered_json(index);
}

ordered_json rank_json(const evaluation::RankReport& rank) {
  const sim::RankResult& m = rank.memory;
  return {
      {"rank", rank.placement.rank},
      {"pp_stage", rank.placement.pp_stage},
      {"tp_rank", rank.placement.tp_rank},
      {"dp_rank", rank.placement.dp_rank},
      {"parameters", rank.parameters},
      {"peak_bytes", m.peak.value()},
      {"fits", rank.fits},
      {"at_peak", categories(m.at_peak)},
      {"max_by_category", categories(m.max_by_category)},
      {"activations_per_microbatch", m.activations_per_microbatch.value()},
      {"cpu_bytes", rank.cpu_bytes.value()},
      {"overhead_parts",
       {{"cuda_context", rank.overheads.cuda_context.value()},
        {"communication", rank.overheads.communication.value()},
        {"process_groups", rank.overheads.process_groups},
        {"allocator_reserve", rank.overheads.allocator_reserve.value()}}},
      {"peak_at",
       {{"t_s", m.peak_moment.t_s},
        {"phase", std::string(sim::phase_name(m.peak_moment.phase))},
        {"microbatch", index_or_null(m.peak_moment.microbatch)},
        {"layer", index_or_null(m.peak_moment.layer)}}},
  };
}

/// Inference settings and answers; the same keys, null, for a training variant (so that
/// compare CSVs keep one row per key).
ordered_json inference_json(const VariantOutcome& v) {
  const strategies::Inference& i = v.variant->plan.inference;
  const auto& facts = v.report.inference;
  const bool on = facts.has_value() && v.capacity.has_value();
  auto value = [&](auto x) { return on ? ordered_json(x) : ordered_json(nullptr); };
  return {
      {"batch", value(i.batch)},
      {"prompt_len", value(i.prompt_len)},
      {"generate_len", value(i.generate_len)},
      {"weights", value(strategies::weight_format_info(i.weights).name)},
      {"embedding_weights", value(strategies::weight_format_info(i.embedding_format()).name)},
      {"group_size", value(i.group_size)},
      {"kv_cache", value(strategies::kv_format_info(i.kv_cache).name)},
      {"kv_block", value(i.kv_block)},
      {"memory_utilization", value(i.memory_utilization)},
      {"usable_bytes", value(on ? facts->usable.value() : 0)},
      {"kv_cache_bytes_per_token", value(on ? facts->kv_bytes_per_token.value() : 0)},
      {"prefill_s", value(on ? facts->prefill_s : 0.0)},
      {"last_decode_step_s", value(on ? facts->last_decode_step_s : 0.0)},
      {"decode_tokens_per_s", value(on ? facts->decode_tokens_per_s : 0.0)},
      {"max_batch", value(on ? v.capacity->max_batch : 0)},
      {"max_prompt_len", value(on ? v.capacity->max_prompt_len : 0)},
  };
}

/// `text` with `spaces` more indentation after every line break.
std::string indented(const std::string& text, size_t spaces) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    out += c;
    if (c == '\n') out.append(spaces, ' ');
  }
  return out;
}

/// How to make a variant that does not fit fit: each change as --set lines, with its peak
/// and step time.
ordered_json suggestions_json(const VariantOutcome& v) {
  ordered_json list = ordered_json::array();
  for (const Suggestion& s : v.suggestions) {
    ordered_json set = ordered_json::array();
    for (const auto& [key, value] : s.changes)
      set.push_back(key + "=" + value);
    list.push_back({{"set", set}, {"peak_bytes", s.peak.value()}, {"step_time_s", s.step_time_s}});
  }
  return list;
}

}  // namespace

ordered_json variant_summary(const VariantOutcome& v) {
  const strategies::Plan& plan = v.variant->plan;
  const evaluation::Report& r = v.report;
  const evaluation::RankReport* fullest = &r.ranks.front();
  for (const auto& rank : r.ranks) {
    if (rank.memory.peak > fullest->memory.peak) fullest = &rank;
  }
  // What only a training step has is null when serving, never a default nobody chose.
  const bool serving = plan.mode == strategies::Mode::kInference;
  const auto training = [serving](ordered_json value) -> ordered_json {
    return serving ? ordered_json(nullptr) : value;
  };
  return {
      {"name", v.variant->name},
      {"mode", plan.mode == strategies::Mode::kInference ? "inference" : "training"},
      {"model", plan.model.name},
      {"parameters", r.parameters},
      {"world_size", r.world_size},
      {"tp", plan.parallel.tp.degree},
      {"pp", plan.parallel.pp.stages},
      {"schedule", training(plan.parallel.pp.schedule)},
      {"virtual_stages", plan.parallel.pp.virtual_stages},
      {"dp", plan.parallel.dp.degree},
      {"zero", plan.parallel.dp.zero},
      {"sharding", sharding_name(plan.parallel.dp.sharding)},
      {"gather", gathering_name(plan.parallel.dp.gathering)},
      {"reshard_after_forward", plan.parallel.dp.reshard_after_forward},
      {"dp_replicate", plan.parallel.dp.replicate},
      {"offload", offload_name(plan.parallel.dp.offload)},
      {"sequence_parallel", plan.parallel.tp.sequence_parallel},
      {"gpu", plan.cluster.gpu->name},
      {"capacity_bytes", r.capacity.value()},
      {"peak_bytes", r.peak.value()},
      {"fits", r.fits},
      {"headroom_bytes", ((r.inference ? r.inference->usable : r.capacity) - r.peak).value()},
      {"bubble_fraction", training(r.bubble_fraction)},
      {"step_time_s", r.step_time_s},
      {"tokens_per_s", r.tokens_per_s},
      {"model_flops_utilization", training(r.model_flops_utilization)},
      {"cpu_bytes_per_node", r.cpu_bytes_per_node.value()},
      {"cpu_capacity_per_node", r.cpu_capacity_per_node.value()},
      {"cpu_fits", r.cpu_fits},
      {"precision", training(plan.precision.info().name)},
      {"optimizer", training(plan.training.optimizer.name)},
      {"optimizer_implementation",
       training(std::string(strategies::step_temporaries(plan.training.optimizer).name))},
      {"checkpointing", training(strategies::describe(plan.training.chunk_passes.checkpointing))},
      {"seq_len", training(plan.training.seq_len)},
      {"micro_batch", training(plan.training.micro_batch)},
      {"global_batch", training(plan.training.global_batch)},
      {"microbatches", training(r.microbatches)},
      {"peak_rank", fullest->placement.rank},
      {"at_peak", categories(fullest->memory.at_peak)},
      {"activations_per_microbatch", fullest->memory.activations_per_microbatch.value()},
      {"inference", inference_json(v)},
      {"suggestions", suggestions_json(v)},
  };
}

void write_report_json(const ScenarioOutcome& outcome, std::ostream& out) {
  // Written as nlohmann's dump(2) of the whole document would be, a rank at a time: a report
  // of 100,000 ranks never lives in memory as one JSON tree.
  out << "{\n  \"memsim_version\": " << json(MEMSIM_VERSION).dump()
      << ",\n  \"scenario\": " << json(outcome.scenario->name).dump() << ",\n  \"variants\": [";
  for (size_t i = 0; i < outcome.variants.size(); ++i) {
    const VariantOutcome& v = outcome.variants[i];
    std::string summary = indented(variant_summary(v).dump(2), 4);
    summary.resize(summary.size() - 6);  // reopen it: drop "\n    }"
    out << (i > 0 ? "," : "") << "\n    " << summary << ",\n      \"ranks\": [";
    for (size_t r = 0; r < v.report.ranks.size(); ++r) {
      out << (r > 0 ? "," : "") << "\n        "
          << indented(rank_json(v.report.ranks[r]).dump(2), 8);
    }
    out << "\n      ]\n    }";
  }
  out << "\n  ]\n}\n";
}

}  // namespace memsim::tools
