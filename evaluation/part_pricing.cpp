#include "evaluation/part_pricing.h"

#include <algorithm>
#include <tuple>

namespace memsim::evaluation::fast {

const PassProfile& pass_of(const ChunkProfile& profile, int kind) {
  switch (kind) {
    case kForwardPass:
      return profile.forward;
    case kBackwardPass:
      return profile.backward;
    case kFirstBackwardPass:
      return profile.first_backward;
    case kInputPass:
      return profile.input;
    case kWeightPass:
      return profile.weight;
    case kFirstWeightPass:
      return profile.first_weight;
    case kHostForwardPass:
      return profile.host_forward;
    default:
      return profile.host_backward;
  }
}

int passes_of(const ChunkProfile& profile) {
  if (profile.offloads) return kProfilePasses;
  return profile.split ? kPassKinds : kInputPass;
}

int64_t fullest(int64_t scale, const PassValues& context, const PassValues& fixed,
                const PassValues& stage) {
  int64_t best = 0;
  const size_t n = context.peaks.size();
  if (fixed.peaks.empty()) {
    for (size_t i = 0; i < n; ++i)
      best = std::max(best, scale * context.peaks[i] + stage.peaks[i]);
  } else {
    for (size_t i = 0; i < n; ++i) {
      best = std::max(best, scale * context.peaks[i] + fixed.peaks[i] + stage.peaks[i]);
    }
  }
  return best;
}

int64_t net(int64_t scale, const PassValues& context, const PassValues& fixed,
            const PassValues& stage) {
  return scale * context.net + fixed.net + stage.net;
}

void evaluate_stage_pass(const PassProfile& pass, const std::vector<int64_t>& quantities,
                         PassValues& out) {
  pass.stage_peaks.evaluate(quantities, out.peaks);
  out.net = pass.stage_net.evaluate(quantities);
}

void evaluate_context_pass(const PassProfile& pass, const std::vector<int64_t>& per_sample,
                           const std::vector<int64_t>* fixed, PassValues& out,
                           PassValues& out_fixed) {
  if (fixed == nullptr) {
    pass.context_peaks.evaluate(per_sample, out.peaks);
    out.net = pass.context_net.evaluate(per_sample);
    out_fixed.peaks.clear();
    out_fixed.net = 0;
    return;
  }
  pass.context_peaks.evaluate(per_sample, *fixed, out.peaks, out_fixed.peaks);
  std::tie(out.net, out_fixed.net) = pass.context_net.evaluate(per_sample, *fixed);
}

}  // namespace memsim::evaluation::fast
