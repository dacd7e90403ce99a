#include "evaluation/time_model.h"

namespace memsim::evaluation {

double forward_flops(const sim::OpNode& op, const sim::DimSizes& dims) {
  const sim::OpKindInfo& info = sim::op_info(op.kind);
  const auto s = static_cast<double>(dims[sim::Dim::kSeq]);
  const auto tokens = static_cast<double>(dims[info.matmul_tokens]);
  const auto b = static_cast<double>(dims[sim::Dim::kBatch]);
  switch (info.flops) {
    case sim::FlopsRule::kNone:
      return 0.0;
    case sim::FlopsRule::kMatmul:
      return 2.0 * tokens * b *
             static_cast<double>(sim::element_count(info.matmul_weight, dims).count);
    case sim::FlopsRule::kAttention:
      return 4.0 * b * static_cast<double>(dims[sim::Dim::kHeads]) * s *
             static_cast<double>(dims[sim::Dim::kKeySeq]) *
             static_cast<double>(dims[sim::Dim::kHeadDim]);
  }
  return 0.0;
}

double compute_seconds(double flops, const hardware::GpuProfile& gpu, double efficiency) {
  return flops / (gpu.peak_16bit_flop_per_s * efficiency);
}

}  // namespace memsim::evaluation
