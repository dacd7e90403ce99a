#pragma once
/// Hashes derived from a value's type, so that a cache key is a plain struct with a
/// defaulted `==` and nothing listed by hand: a field added to a key is compared (by `==`)
/// and hashed (here) without anyone remembering to. Aggregates are hashed field by field
/// (found by structured bindings), ranges element by element, optionals, variants, pairs and
/// tuples and shared values by what they hold, numbers, enums and pointers by value. Strings are
/// hashed by their length only: equal keys still hash alike, and `==` tells apart the rare keys
/// that differ only in text (a GPU's description), at no cost to the hot path.

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "sim/shared_value.h"

namespace memsim::sim {

namespace derived_hash_detail {

/// Converts to any field type, to count an aggregate's fields.
struct AnyField {
  template <typename T>
  operator T() const;  // NOLINT(google-explicit-constructor): only ever in unevaluated contexts
};

template <typename T, typename... Fields>
consteval size_t field_count() {
  if constexpr (requires { T{Fields{}..., AnyField{}}; }) {
    return field_count<T, Fields..., AnyField>();
  } else {
    return sizeof...(Fields);
  }
}

/// Calls `visit` with each field of the aggregate `value`, in order (up to 16 fields).
template <typename T, typename Visit>
void for_each_field(const T& value, Visit&& visit) {
  constexpr size_t n = field_count<T>();
  static_assert(n <= 16, "a key of more than 16 fields: group some into a struct");
  // clang-format off
  if constexpr (n == 0) {
  } else if constexpr (n == 1) { const auto& [a] = value; (visit(a)); }
  else if constexpr (n == 2) { const auto& [a, b] = value; (visit(a), visit(b)); }
  else if constexpr (n == 3) { const auto& [a, b, c] = value; (visit(a), visit(b), visit(c)); }
  else if constexpr (n == 4) {
    const auto& [a, b, c, d] = value; (visit(a), visit(b), visit(c), visit(d));
  } else if constexpr (n == 5) {
    const auto& [a, b, c, d, e] = value; (visit(a), visit(b), visit(c), visit(d), visit(e));
  } else if constexpr (n == 6) {
    const auto& [a, b, c, d, e, f] = value;
    (visit(a), visit(b), visit(c), visit(d), visit(e), visit(f));
  } else if constexpr (n == 7) {
    const auto& [a, b, c, d, e, f, g] = value;
    (visit(a), visit(b), visit(c), visit(d), visit(e), visit(f), visit(g));
  } else if constexpr (n == 8) {
    const auto& [a, b, c, d, e, f, g, h] = value;
    (visit(a), visit(b), visit(c), visit(d), visit(e), visit(f), visit(g), visit(h));
  } else if constexpr (n == 9) {
    const auto& [a, b, c, d, e, f, g, h, i] = value;
    (visit(a), visit(b), visit(c), visit(d), visit(e), visit(f), visit(g), visit(h), visit(i));
  } else if constexpr (n == 10) {
    const auto& [a, b, c, d, e, f, g, h, i, j] = value;
    (visit(a), visit(b), visit(c), visit(d), visit(e), visit(f), visit(g), visit(h), visit(i),
     visit(j));
  } else if constexpr (n == 11) {
    const auto& [a, b, c, d, e, f, g, h, i, j, k] = value;
    (visit(a), visit(b), visit(c), visit(d), visit(e), visit(f), visit(g), visit(h), visit(i),
     visit(j), visit(k));
  } else if constexpr (n == 12) {
    const auto& [a, b, c, d, e, f, g, h, i, j, k, l] = value;
    (visit(a), visit(b), visit(c), visit(d), visit(e), visit(f), visit(g), visit(h), visit(i),
     visit(j), visit(k), visit(l));
  } else if constexpr (n == 13) {
    const auto& [a, b, c, d, e, f, g, h, i, j, k, l, m] = value;
    (visit(a), visit(b), visit(c), visit(d), visit(e), visit(f), visit(g), visit(h), visit(i),
     visit(j), visit(k), visit(l), visit(m));
  } else if constexpr (n == 14) {
    const auto& [a, b, c, d, e, f, g, h, i, j, k, l, m, o] = value;
    (visit(a), visit(b), visit(c), visit(d), visit(e), visit(f), visit(g), visit(h), visit(i),
     visit(j), visit(k), visit(l), visit(m), visit(o));
  } else if constexpr (n == 15) {
    const auto& [a, b, c, d, e, f, g, h, i, j, k, l, m, o, p] = value;
    (visit(a), visit(b), visit(c), visit(d), visit(e), visit(f), visit(g), visit(h), visit(i),
     visit(j), visit(k), visit(l), visit(m), visit(o), visit(p));
  } else {
    const auto& [a, b, c, d, e, f, g, h, i, j, k, l, m, o, p, q] = value;
    (visit(a), visit(b), visit(c), visit(d), visit(e), visit(f), visit(g), visit(h), visit(i),
     visit(j), visit(k), visit(l), visit(m), visit(o), visit(p), visit(q));
  }
  // clang-format on
}

template <typename T>
concept Range = requires(const T& t) {
  t.begin();
  t.end();
  t.size();
};
template <typename T>
concept StringLike = std::is_convertible_v<const T&, std::string_view>;
template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <typename T>
struct IsVariant : std::false_type {};
template <typename... T>
struct IsVariant<std::variant<T...>> : std::true_type {};
template <typename T>
struct IsSharedValue : std::false_type {};
template <typename T>
struct IsSharedValue<SharedValue<T>> : std::true_type {};
template <typename T>
concept TupleLike = requires {
  std::tuple_size<T>::value;
};

class Hasher {
 public:
  template <typename T>
  void add(const T& value) {
    if constexpr (std::is_same_v<T, bool> || std::is_integral_v<T> || std::is_enum_v<T>) {
      mix(static_cast<uint64_t>(value));
    } else if constexpr (std::is_floating_point_v<T>) {
      const double d = value == 0.0 ? 0.0 : static_cast<double>(value);  // -0 == +0
      mix(std::bit_cast<uint64_t>(d));
    } else if constexpr (std::is_pointer_v<T>) {
      mix(reinterpret_cast<uintptr_t>(value));
    } else if constexpr (StringLike<T>) {
      mix(std::string_view(value).size());
    } else if constexpr (IsSharedValue<T>::value) {
      add(*value);
    } else if constexpr (IsOptional<T>::value) {
      mix(value.has_value());
      if (value) add(*value);
    } else if constexpr (IsVariant<T>::value) {
      mix(value.index());
      std::visit([&](const auto& held) { add(held); }, value);
    } else if constexpr (Range<T>) {
      mix(value.size());
      for (const auto& element : value)
        add(element);
    } else if constexpr (TupleLike<T>) {
      std::apply([&](const auto&... element) { (add(element), ...); }, value);
    } else if constexpr (std::is_aggregate_v<T>) {
      for_each_field(value, [&](const auto& field) { add(field); });
    } else {
      // A wrapped number such as Bytes: its object representation is its value.
      static_assert(std::has_unique_object_representations_v<T> &&
                        std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(uint64_t),
                    "no derived hash for this type");
      uint64_t bits = 0;
      std::memcpy(&bits, &value, sizeof(T));
      mix(bits);
    }
  }
  uint64_t value() const { return state_; }

 private:
  void mix(uint64_t bits) {
    // splitmix64's finaliser over the running state: every bit of every field matters.
    uint64_t z = state_ ^ (bits + 0x9E3779B97F4A7C15ULL + (state_ << 6) + (state_ >> 2));
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    state_ = z ^ (z >> 31);
  }
  uint64_t state_ = 0x243F6A8885A308D3ULL;
};

}  // namespace derived_hash_detail

/// The hash of `value`, derived from its type (see above).
template <typename T>
uint64_t derived_hash(const T& value) {
  derived_hash_detail::Hasher hasher;
  hasher.add(value);
  return hasher.value();
}

/// For unordered containers keyed by plain structs.
struct DerivedHash {
  template <typename T>
  size_t operator()(const T& value) const {
    return static_cast<size_t>(derived_hash(value));
  }
};

}  // namespace memsim::sim
