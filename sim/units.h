#pragma once
/// Units carried in types: element counts and bytes never mix silently, and every
/// arithmetic step on them is checked for 64-bit overflow (a trillion-parameter model
/// times a thousand microbatches must not wrap).

#include <compare>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace memsim::sim {

/// Thrown when a simulated quantity does not fit in a signed 64-bit integer.
class OverflowError : public std::overflow_error {
 public:
  using std::overflow_error::overflow_error;
};

/// a + b, or OverflowError.
int64_t checked_add(int64_t a, int64_t b);
/// a * b, or OverflowError.
int64_t checked_mul(int64_t a, int64_t b);
/// ceil(a / b) for a >= 0, b > 0.
constexpr int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}
/// The smallest multiple of `multiple` that is >= value (value >= 0, multiple > 0).
constexpr int64_t round_up(int64_t value, int64_t multiple) {
  return ceil_div(value, multiple) * multiple;
}

/// A number of tensor elements (not bytes).
struct Elements {
  int64_t count = 0;
  auto operator<=>(const Elements&) const = default;
};

/// A number of bytes, signed so that frees are negative deltas.
class Bytes {
 public:
  constexpr Bytes() = default;
  constexpr explicit Bytes(int64_t value) : value_(value) {}

  constexpr int64_t value() const { return value_; }
  double gib() const { return static_cast<double>(value_) / (1024.0 * 1024.0 * 1024.0); }
  double gb() const { return static_cast<double>(value_) / 1e9; }

  Bytes operator+(Bytes other) const { return Bytes(checked_add(value_, other.value_)); }
  Bytes operator-(Bytes other) const { return Bytes(checked_add(value_, -other.value_)); }
  Bytes operator-() const { return Bytes(-value_); }
  Bytes& operator+=(Bytes other) { return *this = *this + other; }
  Bytes& operator-=(Bytes other) { return *this = *this - other; }
  Bytes operator*(int64_t factor) const { return Bytes(checked_mul(value_, factor)); }

  auto operator<=>(const Bytes&) const = default;

 private:
  int64_t value_ = 0;
};

constexpr Bytes kKiB{int64_t{1} << 10};
constexpr Bytes kMiB{int64_t{1} << 20};
constexpr Bytes kGiB{int64_t{1} << 30};

/// Bytes of `elements` values of `bytes_per_element` each.
inline Bytes bytes_of(Elements elements, int64_t bytes_per_element) {
  return Bytes(checked_mul(elements.count, bytes_per_element));
}

}  // namespace memsim::sim
