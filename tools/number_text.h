#pragma once
/// Numbers as the sweep's rows write them, exactly as fmt's "{}" does, at a third of its
/// cost: fmt's general writers spend most of their time on the format specifications
/// (width, grouping, locale) that a plain "{}" never uses. Doubles are the shortest text
/// that reads back to the same value (fixed notation from 1e-4 up to 1e16, exponent
/// notation outside), their digits from the same Dragonbox conversion fmt uses.

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace memsim::tools {

/// The most characters write_shortest writes: a sign, 17 digits, a point, and "e-308".
inline constexpr int kMostShortestChars = 24;

/// Writes `value` at `out` (room for kMostShortestChars) and returns the end.
char* write_shortest(char* out, double value);

/// The most characters write_integer writes: a sign and 19 digits.
inline constexpr int kMostIntegerChars = 20;

/// Writes `value` in decimal at `out` (room for kMostIntegerChars) and returns the end.
char* write_integer(char* out, int64_t value);

/// write_shortest (doubles) or write_integer (int64_t) with the text of recent values
/// kept: a sweep's rows repeat values far apart (plans that time alike share their step
/// time, bubble and throughput; peaks repeat over the global batch), and copying a kept
/// text costs a tenth of converting the value again. One per column: each keeps the last
/// value met of each of its slots.
template <typename T>
class KeptTexts {
 public:
  /// The most characters a value takes.
  static constexpr int kMostChars = std::max(kMostShortestChars, kMostIntegerChars);
  KeptTexts();
  /// Writes `value` at `out` (room for kMostChars: a kept text is copied whole) and returns
  /// the end.
  char* write(char* out, T value);
  /// Asks for `value`'s slot to be brought into the cache: a write soon after finds it there.
  void prefetch(T value) const { __builtin_prefetch(&slots_[slot_of(value)]); }

 private:
  struct Slot {
    uint64_t bits = 0;
    uint8_t size = 0;  ///< 0: empty
    std::array<char, kMostChars> text{};
  };
  /// 4,096 slots: the 500k grid's rows convert 512,000 of their 1.4 million doubles (1,024
  /// slots: 687,000), and on huge pages the larger table costs no more to look in.
  static constexpr int kSlotBits = 12;
  static size_t slot_of(T value) {
    // Fibonacci hashing: the top bits of the product mix every bit of the value's.
    return (std::bit_cast<uint64_t>(value) * 0x9E3779B97F4A7C15ULL) >> (64 - kSlotBits);
  }
  std::vector<Slot> slots_;
};
using ShortestTexts = KeptTexts<double>;
using IntegerTexts = KeptTexts<int64_t>;

}  // namespace memsim::tools
