#include "sim/inference_walk.h"

#include "sim/check.h"

namespace memsim::sim {

namespace {

constexpr int kNotRead = -1;

}  // namespace

InferenceWalker::InferenceWalker(const LayerGraph& graph, int first, int last,
                                 std::vector<bool> skipped, EventSink* sink)
    : graph_(graph),
      first_(first),
      last_(last),
      skipped_(std::move(skipped)),
      last_use_(graph.tensor_count(), kNotRead),
      sink_(sink) {
  MEMSIM_CHECK(0 <= first && first <= last && last < static_cast<int>(graph.op_count()));
  MEMSIM_CHECK(static_cast<int>(skipped_.size()) == graph.op_count());
  for (int pos = first; pos <= last; ++pos) {
    const OpId op = graph.forward_order()[pos];
    if (skipped_[op]) continue;
    for (TensorId t : graph.op(op).inputs) {
      // Made before the rank's first op (received from the previous stage, or the token
      // ids): it arrives when a pass starts.
      if (last_use_[t] == kNotRead && graph.position(graph.tensor(t).producer) < first) {
        arrivals_.push_back(t);
      }
      last_use_[t] = pos;
    }
  }
}

void InferenceWalker::hold(const CategoryBytes& resident) {
  for (Category category : kAllCategories)
    emit(resident[category], category, Phase::kIdle, kNoIndex, kNoIndex);
}

void InferenceWalker::run(const InferencePass& pass) {
  MEMSIM_CHECK(static_cast<int>(pass.tensor_bytes.size()) == graph_.tensor_count());
  MEMSIM_CHECK(static_cast<int>(pass.op_s.size()) == graph_.op_count());
  const double start = now_;
  emit(pass.kv_growth, Category::kKvCache, Phase::kForward, pass.index, kNoIndex);
  const auto bytes = [&](TensorId t) { return pass.tensor_bytes[t]; };
  for (TensorId t : arrivals_)
    emit(bytes(t), Category::kTemporary, Phase::kForward, pass.index, kNoIndex);
  for (int pos = first_; pos <= last_; ++pos) {
    const OpId id = graph_.forward_order()[pos];
    if (skipped_[id]) continue;
    const OpNode& op = graph_.op(id);
    // Working tensors: the op's own (what training saves for backward is here only an
    // intermediate of the kernel) and its forward workspace.
    std::vector<TensorId> working = op.forward_workspace;
    for (TensorId t : op.saved) {
      if (graph_.tensor(t).role == TensorRole::kOwn) working.push_back(t);
    }
    for (TensorId t : op.outputs)
      emit(bytes(t), Category::kTemporary, Phase::kForward, pass.index, op.layer);
    for (TensorId t : working)
      emit(bytes(t), Category::kTemporary, Phase::kForward, pass.index, op.layer);
    now_ += pass.op_s[id];
    for (TensorId t : working)
      emit(-bytes(t), Category::kTemporary, Phase::kForward, pass.index, op.layer);
    for (TensorId t : op.inputs) {
      if (last_use_[t] == pos)
        emit(-bytes(t), Category::kTemporary, Phase::kForward, pass.index, op.layer);
    }
    // Outputs nobody here reads: sent to the next stage, or the logits handed to sampling.
    for (TensorId t : op.outputs) {
      if (last_use_[t] == kNotRead)
        emit(-bytes(t), Category::kTemporary, Phase::kForward, pass.index, op.layer);
    }
  }
  if (sink_ != nullptr && now_ > start) sink_->span({start, now_, Phase::kForward, pass.index, 0});
}

RankResult InferenceWalker::result() const {
  RankResult result = tracker_.result();
  result.step_time_s = now_;
  result.busy_s = now_;
  result.last_step_end_s = now_;
  return result;
}

void InferenceWalker::emit(Bytes delta, Category category, Phase phase, int32_t pass,
                           int32_t layer) {
  if (delta.value() == 0) return;
  const MemoryEvent event{now_, delta, category, phase, pass, layer};
  tracker_.apply(event);
  if (sink_ != nullptr) sink_->record(event);
}

}  // namespace memsim::sim
