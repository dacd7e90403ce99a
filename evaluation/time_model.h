#pragma once
/// A simple, documented time model: an op's forward takes its matrix FLOPs over the GPU's
/// peak 16-bit FLOP/s times the achieved efficiency; its backward twice that (gradients of
/// inputs and of weights). Elementwise ops are counted as free.

#include "hardware/gpu_profile.h"
#include "sim/layer_graph.h"

namespace memsim::evaluation {

/// Forward FLOPs of `op` with the dimensions one rank sees.
double forward_flops(const sim::OpNode& op, const sim::DimSizes& dims);

/// Seconds for `flops` on `gpu` at `efficiency` of its peak.
double compute_seconds(double flops, const hardware::GpuProfile& gpu, double efficiency);

}  // namespace memsim::evaluation
