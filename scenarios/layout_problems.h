#pragma once
/// What each layout problem (strategies/layout.h) is called in a scenario: the dotted keys
/// whose values decide it, a short phrase for counting skipped sweep points, and the full
/// message for a plan, in the scenario's own words.

#include <string>
#include <vector>

#include "strategies/layout.h"

namespace memsim::scenarios {

/// The dotted scenario keys whose values decide `reason`, the one at fault first.
std::vector<std::string> layout_keys(strategies::LayoutReason reason);
/// A short phrase, for counting skipped sweep points.
const char* layout_summary(strategies::LayoutReason reason);
/// The full message for `plan`.
std::string layout_message(strategies::LayoutReason reason, const strategies::Plan& plan);

}  // namespace memsim::scenarios
