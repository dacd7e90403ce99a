#include "tools/number_text.h"

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <fmt/format.h>

namespace memsim::tools {

namespace {

/// "00" to "99": two digits at a time.
constexpr char kPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/// 10^0 to 10^19, every power of ten a uint64_t holds.
constexpr std::array<uint64_t, 20> kPowersOf10 = [] {
  std::array<uint64_t, 20> powers{};
  uint64_t power = 1;
  for (uint64_t& p : powers) {
    p = power;
    power *= 10;  // wraps after the last, unused
  }
  return powers;
}();

/// The digits of n > 0: from its bit width, log10(2) ≈ 1233 / 4096 gives it or one less.
int digit_count(uint64_t n) {
  const int guess = (std::bit_width(n) * 1233) >> 12;
  return guess + (n >= kPowersOf10[guess] ? 1 : 0);
}

/// Writes the `count` digits of `n` (< 10^9) ending just before `end`, two at a time.
void write_small(char* end, uint32_t n, int count) {
  for (; count >= 2; count -= 2) {
    end -= 2;
    std::memcpy(end, kPairs + 2 * (n % 100), 2);
    n /= 100;
  }
  if (count == 1) *--end = static_cast<char>('0' + n);
}

/// Writes the four digits of `n` (< 10^4, leading zeros included) at `out`: two pairs, by
/// multiplications alone (n × 5243 / 2^19 is n / 100 for every n below 10^4).
void write_four(char* out, uint32_t n) {
  const uint32_t pair = (n * 5243) >> 19;
  std::memcpy(out, kPairs + 2 * pair, 2);
  std::memcpy(out + 2, kPairs + 2 * (n - pair * 100), 2);
}

/// Writes the eight digits of `n` (< 10^8, leading zeros included) at `out`.
void write_eight(char* out, uint32_t n) {
  const uint32_t high = n / 10000;
  write_four(out, high);
  write_four(out + 4, n - high * 10000);
}

/// Writes the `count` digits of `n` ending just before `end`: eight at a time from the
/// last, then the rest.
void write_digits(char* end, uint64_t n, int count) {
  constexpr uint64_t kEight = 100000000;
  for (; count >= 8; count -= 8) {
    const uint64_t rest = n / kEight;
    end -= 8;
    write_eight(end, static_cast<uint32_t>(n - rest * kEight));
    n = rest;
  }
  if (count > 0) write_small(end, static_cast<uint32_t>(n), count);
}

/// "e+05", "e-300": the sign and at least two digits, as fmt writes exponents.
char* write_exponent(char* out, int exponent) {
  *out++ = 'e';
  *out++ = exponent < 0 ? '-' : '+';
  const auto magnitude = static_cast<uint32_t>(exponent < 0 ? -exponent : exponent);
  const int count = magnitude >= 100 ? 3 : 2;
  write_small(out + count, magnitude, count);
  return out + count;
}

}  // namespace

char* write_shortest(char* out, double value) {
  if (!std::isfinite(value)) return fmt::format_to(out, "{}", value);
  if (std::signbit(value)) {
    *out++ = '-';
    value = -value;
  }
  if (value == 0.0) {
    *out = '0';
    return out + 1;
  }
  // fmt's own shortest-digits conversion (a declared, exported function of the library).
  const auto decimal = fmt::detail::dragonbox::to_decimal(value);
  const uint64_t digits = decimal.significand;
  const int count = digit_count(digits);
  const int exponent = decimal.exponent;  // value = digits × 10^exponent
  const int leading = exponent + count;   // digits before the point
  if (leading - 1 < -4 || leading - 1 >= 16) {
    // d[.ddd]e±XX
    write_digits(out + count + 1, digits, count);
    out[0] = out[1];
    if (count == 1) return write_exponent(out + 1, leading - 1);
    out[1] = '.';
    return write_exponent(out + count + 1, leading - 1);
  }
  if (exponent >= 0) {  // 1234e2 -> 123400
    write_digits(out + count, digits, count);
    for (int i = 0; i < exponent; ++i)
      out[count + i] = '0';
    return out + count + exponent;
  }
  if (leading > 0) {  // 1234e-2 -> 12.34: the digits, then the leading ones moved left
    write_digits(out + count + 1, digits, count);
    for (int i = 0; i < leading; ++i)
      out[i] = out[i + 1];
    out[leading] = '.';
    return out + count + 1;
  }
  // 1234e-6 -> 0.001234 (at most three zeros after the point)
  std::memcpy(out, "0.000", 5);
  write_digits(out + 2 - leading + count, digits, count);
  return out + 2 - leading + count;
}

char* write_integer(char* out, int64_t value) {
  uint64_t magnitude = static_cast<uint64_t>(value);
  if (value < 0) {
    *out++ = '-';
    magnitude = ~magnitude + 1;  // also right for the most negative value
  }
  if (magnitude == 0) {
    *out = '0';
    return out + 1;
  }
  const int count = digit_count(magnitude);
  write_digits(out + count, magnitude, count);
  return out + count;
}

template <typename T>
KeptTexts<T>::KeptTexts() : slots_(size_t{1} << kSlotBits) {}

template <typename T>
char* KeptTexts<T>::write(char* out, T value) {
  const auto bits = std::bit_cast<uint64_t>(value);
  Slot& slot = slots_[slot_of(value)];
  if (slot.size == 0 || slot.bits != bits) {
    char* const text = slot.text.data();
    char* end = nullptr;
    if constexpr (std::is_same_v<T, double>) {
      end = write_shortest(text, value);
    } else {
      end = write_integer(text, value);
    }
    slot.size = static_cast<uint8_t>(end - text);
    slot.bits = bits;
  }
  std::memcpy(out, slot.text.data(), kMostChars);
  return out + slot.size;
}

template class KeptTexts<double>;
template class KeptTexts<int64_t>;

}  // namespace memsim::tools
