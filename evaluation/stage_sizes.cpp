#include "evaluation/stage_sizes.h"

#include "sim/check.h"

namespace memsim::evaluation {

void price_context(const PlanContext& context, const sim::QuantityIndex& index,
                   std::vector<sim::Bytes>& sizes) {
  sizes.resize(index.count());
  for (int k = 0; k < index.classes().count(); ++k) {
    sizes[k] = context.class_bytes(k);
    sizes[index.share(k)] = context.class_share(k);
  }
  for (int slot = 0; slot < index.twin_count(); ++slot)
    sizes[index.buffer(slot)] = context.twin_buffer(slot);
}

void price_stage(const StageFacts& facts, const sim::QuantityIndex& index,
                 std::vector<sim::Bytes>& sizes) {
  sizes.resize(index.count());
  const StageStates& states = facts.states;
  const auto twins = static_cast<int>(states.gradients_per_twin.size());
  MEMSIM_CHECK(index.gathered_parameters(twins) == index.held_of_slot(0, 0));
  // Parameter gradients exist apart from the resident state only when each backward makes
  // its own (on demand); otherwise they are resident and its backward allocates nothing.
  // Stepped in backward, an op frees them as it ends, but for a gradient the embedding's
  // backward still adds to: PyTorch's engine sums a shared weight's gradients before its
  // AccumulateGrad runs (torch/csrc/autograd/input_buffer.cpp), so the step and the free
  // come at the embedding's backward, the last of the pass.
  for (int slot = 0; slot < twins; ++slot) {
    const bool made = facts.gradients != sim::GradientLifetime::kWholeStep;
    const bool freed = facts.gradients == sim::GradientLifetime::kOpBackward &&
                       slot != states.shared_gradient_slot;
    sizes[index.parameter_gradients(slot)] = made ? states.gradients_per_twin[slot] : sim::Bytes{};
    sizes[index.freed_gradients(slot)] = freed ? states.gradients_per_twin[slot] : sim::Bytes{};
    // A tied head's fresh gradient waits in autograd's input buffer until the embedding's
    // backward, the pass's last, adds its share (torch/csrc/autograd/input_buffer.cpp).
    const bool waits = slot == states.shared_gradient_slot;
    const sim::Bytes added =
        facts.accumulates_in_place ? states.gradients_per_twin[slot] : sim::Bytes{};
    sizes[index.added_gradients(slot)] = waits ? sim::Bytes{} : added;
    sizes[index.waiting_gradients(slot)] = waits ? added : sim::Bytes{};
    sizes[index.gathered_parameters(slot)] = states.gathered_per_twin[slot];
  }
  for (size_t slot = 0; slot < states.gathered.size(); ++slot) {
    const auto s = static_cast<int>(slot);
    sizes[index.held_of_slot(kGatheredParameters, s)] = states.gathered[slot];
    sizes[index.held_of_slot(kLayerGradients, s)] = states.gradients[slot];
  }
  sizes[index.held_single(kGradientBucket)] = states.reduce_bucket;
}

std::vector<sim::Bytes> stage_sizes(const PlanContext& context, const StageFacts& facts,
                                    const sim::QuantityIndex& index) {
  std::vector<sim::Bytes> sizes(index.count());
  price_context(context, index, sizes);
  price_stage(facts, index, sizes);
  return sizes;
}

}  // namespace memsim::evaluation
