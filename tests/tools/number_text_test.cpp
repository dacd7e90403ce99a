// Numbers for sweep rows: the same text as fmt's "{}" for every kind of value.

#include "tools/number_text.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

namespace {

std::string shortest(double value) {
  char text[memsim::tools::kMostShortestChars];
  return {text, memsim::tools::write_shortest(text, value)};
}

}  // namespace

TEST_CASE("write_shortest writes what fmt writes for values of every notation") {
  const double examples[] = {0.0,
                             -0.0,
                             1.0,
                             -1.0,
                             0.1,
                             0.0001,
                             0.00001,
                             1234.5,
                             1e15,
                             1e16,
                             9.5e15,
                             1e16 + 2,
                             123e-7,
                             5e-324,
                             1e-310,
                             1e300,
                             1e100,
                             1e99,
                             1.5e-100,
                             0.03376696325991941,
                             6.452471944868135,
                             40626.9104677769,
                             1e21,
                             123456789012345678.0,
                             std::numeric_limits<double>::max(),
                             std::numeric_limits<double>::min(),
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::quiet_NaN()};
  for (const double x : examples) {
    CAPTURE(x);
    CHECK(shortest(x) == fmt::format("{}", x));
  }
  CHECK(shortest(0.0001) == "0.0001");
  CHECK(shortest(1e16) == "1e+16");
  CHECK(shortest(1234.5) == "1234.5");
  CHECK(shortest(123e-7) == "1.23e-05");
}

TEST_CASE("kept texts are the values' own, however values come back and share slots") {
  // Few distinct values, drawn again and again in random order: texts are kept, and
  // thousands of values share the slots, so a slot is overwritten and refilled many times.
  std::mt19937_64 random(7);
  std::vector<uint64_t> bits;
  for (int i = 0; i < 5000; ++i)
    bits.push_back(random());
  bits.push_back(0);
  bits.push_back(std::bit_cast<uint64_t>(-0.0));  // 0.0 to ==, but written "-0"
  bits.push_back(uint64_t{1} << 63);              // the most negative integer
  memsim::tools::ShortestTexts doubles;
  memsim::tools::IntegerTexts integers;
  std::uniform_int_distribution<size_t> pick(0, bits.size() - 1);
  int mismatches = 0;
  for (int i = 0; i < 100000; ++i) {
    const uint64_t b = bits[pick(random)];
    char text[memsim::tools::ShortestTexts::kMostChars];
    const auto x = std::bit_cast<double>(b);
    const auto n = std::bit_cast<int64_t>(b);
    const std::string kept_double(text, doubles.write(text, x));
    const std::string kept_integer(text, integers.write(text, n));
    char own[memsim::tools::kMostIntegerChars];
    const std::string integer(own, memsim::tools::write_integer(own, n));
    if ((kept_double != shortest(x) || kept_integer != integer) && ++mismatches <= 5) {
      CAPTURE(b);
      CHECK(kept_double == shortest(x));
      CHECK(kept_integer == integer);
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("write_shortest writes what fmt writes for random bit patterns and magnitudes") {
  std::mt19937_64 random(12345);
  std::uniform_real_distribution<double> mantissa(1.0, 10.0);
  std::uniform_int_distribution<int> power(-30, 30);
  int mismatches = 0;
  for (int i = 0; i < 200000; ++i) {
    const double any = std::bit_cast<double>(random());
    const double typical = mantissa(random) * std::pow(10.0, power(random));
    for (const double x : {any, typical, std::round(typical)}) {
      if (shortest(x) != fmt::format("{}", x) && ++mismatches <= 5) {
        CAPTURE(x);
        CHECK(shortest(x) == fmt::format("{}", x));
      }
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("write_integer writes what fmt writes, for every length and sign") {
  auto text = [](int64_t value) {
    char out[memsim::tools::kMostIntegerChars];
    return std::string(out, memsim::tools::write_integer(out, value));
  };
  for (const int64_t x :
       {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{9}, int64_t{10}, int64_t{99999999},
        int64_t{100000000}, int64_t{1147521464832}, std::numeric_limits<int64_t>::max(),
        std::numeric_limits<int64_t>::min()}) {
    CAPTURE(x);
    CHECK(text(x) == fmt::format("{}", x));
  }
  std::mt19937_64 random(99);
  int mismatches = 0;
  for (int i = 0; i < 200000; ++i) {
    const auto any = static_cast<int64_t>(random());
    const int64_t shorter = any >> (random() % 64);  // every length
    for (const int64_t x : {any, shorter}) {
      if (text(x) != fmt::format("{}", x)) ++mismatches;
    }
  }
  CHECK(mismatches == 0);
}
