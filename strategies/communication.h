#pragma once
/// Communication time: bytes over the link a process group uses. Ring collectives move
/// 2(n-1)/n of the data for an all-reduce and (n-1)/n for an all-gather or a
/// reduce-scatter (Thakur et al. 2005); a group inside one node uses the GPU-to-GPU link, a
/// group spanning nodes the network.

#include <cstdint>
#include <functional>
#include <vector>

#include "sim/layer_graph.h"
#include "sim/rank_program.h"
#include "strategies/plan.h"
#include "strategies/tensor_parallel.h"

namespace memsim::strategies {

/// Bytes per second a group of `size` ranks, `stride` ranks apart, gets per GPU.
double group_bandwidth(const Cluster& cluster, int64_t stride, int64_t size);

double all_reduce_s(sim::Bytes bytes, int64_t ranks, double bytes_per_s);
/// Also the time of a reduce-scatter of `bytes`.
double all_gather_s(sim::Bytes bytes, int64_t ranks, double bytes_per_s);

/// Seconds a forward and a backward take.
struct OpSeconds {
  double forward_s = 0.0;
  double backward_s = 0.0;
};

/// Megatron's tensor-parallel collectives around one op: a tensor without a split dimension
/// entering sharded layers is all-gathered in forward and reduce-scattered in backward with
/// sequence parallelism, all-reduced in backward without (once, by its first sharded
/// reader); one leaving a sharded layer is reduce-scattered (all-reduced) in forward and
/// all-gathered in backward with sequence parallelism. `whole_sequence(t)` is tensor t's
/// size before any sequence split.
OpSeconds tensor_parallel_seconds(const sim::LayerGraph& graph, sim::OpId op,
                                  const std::function<sim::Bytes(sim::TensorId)>& whole_sequence,
                                  const TensorParallelism& tp, double bytes_per_s);

/// Process groups of more than one rank that each rank communicates in.
int64_t process_groups(const Parallelism& parallel);

}  // namespace memsim::strategies
