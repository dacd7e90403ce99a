// Chunked cross-entropy: the LM head and the loss run per chunk of each sequence, as
// torchtune v0.6.1 runs them (TransformerDecoder.chunked_output projects every chunk and
// returns the list; CEWithChunkedOutputLoss upcasts and scores the chunks one by one). The
// graph's head in chunks, and what eager PyTorch keeps of it, is the layer graph's
// (sim::GraphOptions::loss_chunks; measured in tests/validation/pytorch_chunked_loss_test.cpp).

#include <fmt/format.h>

#include "sim/limits.h"
#include "strategies/strategy_pass.h"

namespace memsim::strategies {

namespace {

constexpr auto kLossChunks = MEMSIM_PLAN_FIELD(training.loss_chunks);

void chunk_the_head(const TrainingPlan& plan, sim::GraphOptions& options) {
  options.loss_chunks = plan.training.loss_chunks;
}

/// Chunks of unequal length are not modelled (torch.chunk would make the last shorter).
bool chunks_do_not_divide(const Plan& plan) {
  return plan.mode == Mode::kTraining && plan.training.seq_len % plan.training.loss_chunks != 0;
}

std::string chunks_message(const Plan& plan) {
  return fmt::format("training.loss_chunks = {} does not divide training.seq_len = {}",
                     plan.training.loss_chunks, plan.training.seq_len);
}

}  // namespace

StrategyPass chunked_loss_pass() {
  return {
      .name = "chunked loss",
      .keys = {integer_row("training.loss_chunks",
                           "LM head and loss per chunk of the sequence, as torchtune's chunked "
                           "loss (1)",
                           kLossChunks, 1, sim::kMostTokens)},
      .checks = {{"training.loss_chunks training.seq_len", "loss chunks do not divide seq_len",
                  chunks_do_not_divide, chunks_message}},
      .shape_graph = chunk_the_head,
  };
}

}  // namespace memsim::strategies
