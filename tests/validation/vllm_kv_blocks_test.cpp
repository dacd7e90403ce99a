// The KV cache a serving engine finds room for, against vLLM's own count: Llama 2 7B on one
// A100-80GB at gpu_memory_utilization 0.9 with 16-token blocks gets 7,351 blocks (vLLM pull
// request #2031, "Fix peak memory profiling", W. Kwon, 2023-12-12, after the fix). vLLM
// profiles one forward of max_num_batched_tokens (4,096: Llama 2's context) and gives the
// rest of the usable memory to the cache. In memsim that is the longest prompt that fits at
// batch 1 when it is prefilled 4,096 tokens at a time: the cache grows to the whole prompt
// while a 4,096-token pass runs.

#include <doctest/doctest.h>

#include "evaluation/evaluate.h"
#include "support/test_support.h"
#include "tools/fit_search.h"

TEST_CASE("vLLM's KV cache blocks for Llama 2 7B on an A100-80GB (within 2%)") {
  auto plan = memsim::testing::serving_plan("llama2-7b", 1, 4096, 0);
  plan.model.attention = memsim::sim::AttentionImpl::kFlash;
  plan.inference.prefill_chunk = 4096;
  plan.inference.kv_block = 16;
  memsim::evaluation::FastEvaluator evaluator;
  const auto capacity = memsim::tools::inference_capacity(plan, evaluator);
  const double blocks = static_cast<double>(capacity.max_prompt_len) / 16.0;
  // memsim: 118,432 tokens, 7,402 blocks (+0.7%): weights 12.55 GiB, CUDA context 1.31 GiB,
  // the pass's tensors 0.28 GiB, and 512 KiB of cache per token in 72 GiB.
  CHECK(blocks == doctest::Approx(7351.0).epsilon(0.02));
}
