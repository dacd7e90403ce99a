#include "tools/units_format.h"

#include <fmt/format.h>

namespace memsim::tools {

const char* unit_name(UnitSystem units) {
  return units == UnitSystem::kBinary ? "GiB" : "GB";
}

std::string format_amount(sim::Bytes bytes, UnitSystem units) {
  return fmt::format("{:.2f}", units == UnitSystem::kBinary ? bytes.gib() : bytes.gb());
}

std::string format_bytes(sim::Bytes bytes, UnitSystem units) {
  return format_amount(bytes, units) + " " + unit_name(units);
}

std::string format_count(int64_t count) {
  const auto n = static_cast<double>(count);
  if (n >= 1e9) return fmt::format("{:.2f} B", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.1f} M", n / 1e6);
  if (n >= 1e3) return fmt::format("{:.1f} K", n / 1e3);
  return fmt::format("{}", count);
}

std::string format_usd(double usd) {
  if (usd < 100.0) return fmt::format("${:.2f}", usd);
  const std::string digits = fmt::format("{:.0f}", usd);
  std::string text = "$";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return text;
}

}  // namespace memsim::tools
