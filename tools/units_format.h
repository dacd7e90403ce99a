#pragma once
/// Human-readable bytes (GiB, 2^30, by default; GB, 10^9, with --units si), counts and dollars.

#include <string>

#include "sim/units.h"

namespace memsim::tools {

enum class UnitSystem { kBinary, kSi };

/// "12.55 GiB" / "13.48 GB".
std::string format_bytes(sim::Bytes bytes, UnitSystem units);
/// The unit's name: "GiB" or "GB".
const char* unit_name(UnitSystem units);
/// The number alone, in the unit, with two decimals.
std::string format_amount(sim::Bytes bytes, UnitSystem units);
/// "6.74 B", "124.4 M": parameter counts for people (exact counts go in JSON).
std::string format_count(int64_t count);

/// Dollars: "$3.43" below $100, whole dollars with thousands separators above ("$18,549").
std::string format_usd(double usd);

}  // namespace memsim::tools
