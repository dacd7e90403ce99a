#pragma once
/// Doubles as the shortest text that reads back to the same value, exactly as fmt's "{}"
/// writes them (fixed notation from 1e-4 up to 1e16, exponent notation outside), for the
/// sweep's rows: fmt's general float writer spends two thirds of its time on the format
/// specifications (width, grouping, locale) that a plain "{}" never uses. The digits come
/// from the same Dragonbox conversion fmt uses.

namespace memsim::tools {

/// The most characters write_shortest writes: a sign, 17 digits, a point, and "e-308".
inline constexpr int kMostShortestChars = 24;

/// Writes `value` at `out` (room for kMostShortestChars) and returns the end.
char* write_shortest(char* out, double value);

}  // namespace memsim::tools
