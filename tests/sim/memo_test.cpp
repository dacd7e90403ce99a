// The memo tables that sweeps look values up in: each finds what was made for a key while
// it is kept, forgets the least recently used one first, and never gives an id twice.

#include "sim/memo.h"

#include <algorithm>
#include <cstdint>
#include <list>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace {

struct Key {
  int64_t number = 0;
  std::string name;
  bool operator==(const Key&) const = default;
};

}  // namespace

TEST_CASE("a recent cache finds what it made while the key is kept, and forgets the oldest") {
  memsim::sim::RecentCache<Key, std::string, 4> cache;
  int made = 0;
  auto get = [&](int64_t n) {
    return cache.get(Key{n, std::to_string(n)}, [&] {
      ++made;
      return std::to_string(100 + n);
    });
  };
  std::set<uint64_t> ids;
  for (int64_t n = 0; n < 4; ++n)
    ids.insert(get(n).id);
  CHECK(made == 4);
  CHECK(ids.size() == 4);
  // All four kept: found, not made again, the same id.
  const auto two = get(2);
  CHECK(*two.value == "102");
  CHECK(made == 4);
  CHECK(ids.count(two.id) == 1);
  for (int64_t n : {0, 1, 3, 2})
    CHECK(*get(n).value == std::to_string(100 + n));
  CHECK(made == 4);
  // A fifth key takes the least recently used slot (key 0's), and key 0 comes back new.
  const auto five = get(5);
  CHECK(made == 5);
  CHECK(ids.count(five.id) == 0);
  ids.insert(five.id);
  for (int64_t n : {1, 2, 3, 5}) {
    get(n);
    CHECK(made == 5);
  }
  const auto zero = get(0);
  CHECK(made == 6);
  CHECK(*zero.value == "100");
  CHECK(ids.count(zero.id) == 0);  // ids are never reused
  // Many more keys than slots, met again and again: only what was evicted is made again.
  for (int round = 0; round < 3; ++round) {
    for (int64_t n = 10; n < 30; ++n)
      CHECK(*get(n).value == std::to_string(100 + n));
  }
  CHECK(made == 6 + 3 * 20);
}

TEST_CASE("a recent cache is a least-recently-used cache, whatever order keys come in") {
  // Against a plain model of one, with ids: random keys from a few more than the slots to
  // many more, so that homes collide and slots are evicted and re-indexed again and again.
  std::mt19937_64 random(11);
  for (const uint64_t keys : {5, 9, 40, 300}) {
    memsim::sim::RecentCache<Key, int64_t, 4> small;
    memsim::sim::RecentCache<Key, int64_t, 32> large;
    std::list<std::pair<int64_t, uint64_t>> small_model, large_model;  // key, id; recent first
    auto check = [&](auto& cache, auto& model, size_t kept, int64_t n) {
      const auto known = std::find_if(model.begin(), model.end(),
                                      [n](const auto& entry) { return entry.first == n; });
      bool made = false;
      const auto found = cache.get(Key{n, std::to_string(n)}, [&] {
        made = true;
        return 1000 + n;
      });
      CHECK(made == (known == model.end()));
      CHECK(*found.value == 1000 + n);
      if (known != model.end()) {
        CHECK(found.id == known->second);
        model.erase(known);
      }
      model.emplace_front(n, found.id);
      if (model.size() > kept) model.pop_back();
    };
    for (int i = 0; i < 3000; ++i) {
      CAPTURE(keys);
      const auto n = static_cast<int64_t>(random() % keys);
      check(small, small_model, 4, n);
      check(large, large_model, 32, n);
    }
  }
}

TEST_CASE("a last-few table gives a key its slot until it is the oldest of a miss") {
  memsim::sim::LastFew<int64_t, int64_t, 3> table;
  for (int64_t k = 1; k <= 3; ++k) {
    auto [value, fresh] = table.get(k);
    CHECK(fresh);
    *value = 10 * k;
  }
  for (int64_t k : {2, 1, 3}) {
    auto [value, fresh] = table.get(k);
    CHECK_FALSE(fresh);
    CHECK(*value == 10 * k);
  }
  // Key 2 is the least recently used: a new key takes its slot.
  auto [value, fresh] = table.get(4);
  CHECK(fresh);
  *value = 40;
  CHECK_FALSE(table.get(1).second);
  CHECK_FALSE(table.get(3).second);
  CHECK_FALSE(table.get(4).second);
  CHECK(table.get(2).second);
}

TEST_CASE("a last-few table is a least-recently-used cache, whatever order keys come in") {
  // Against a plain model of one: cycles (the order a slot is first looked for in), their
  // reverse, and random keys, each a few times over more keys than slots and fewer.
  std::mt19937_64 random(3);
  for (const int64_t keys : {3, 5, 8, 12}) {
    memsim::sim::LastFew<int64_t, int64_t, 5> table;
    std::list<int64_t> model;  // most recent first
    std::vector<int64_t> order;
    for (int round = 0; round < 6; ++round) {
      for (int64_t k = 0; k < keys; ++k)
        order.push_back(round % 3 == 1 ? keys - 1 - k : k);
      for (int64_t k = 0; k < keys; ++k)
        order.push_back(static_cast<int64_t>(random() % static_cast<uint64_t>(keys)));
    }
    for (const int64_t key : order) {
      CAPTURE(keys);
      CAPTURE(key);
      const auto known = std::find(model.begin(), model.end(), key);
      const bool kept = known != model.end();
      if (kept) model.erase(known);
      model.push_front(key);
      if (model.size() > 5) model.pop_back();
      auto [value, fresh] = table.get(key);
      CHECK(fresh == !kept);
      if (fresh) *value = 100 + key;
      CHECK(*value == 100 + key);
    }
  }
}

TEST_CASE("a recent cache whose maker throws is left as it was") {
  memsim::sim::RecentCache<Key, int, 2> cache;
  auto make = [](int value) { return [value] { return value; }; };
  CHECK(*cache.get(Key{1, "a"}, make(10)).value == 10);
  CHECK(*cache.get(Key{2, "b"}, make(20)).value == 20);
  CHECK_THROWS_AS(cache.get(Key{3, "c"}, []() -> int { throw std::runtime_error("no"); }),
                  std::runtime_error);
  // Both values kept, and the failed key made anew when asked again.
  int made = 0;
  auto counted = [&](int value) {
    return [&made, value] {
      ++made;
      return value;
    };
  };
  CHECK(*cache.get(Key{2, "b"}, counted(0)).value == 20);
  CHECK(*cache.get(Key{1, "a"}, counted(0)).value == 10);
  CHECK(made == 0);
  CHECK(*cache.get(Key{3, "c"}, counted(30)).value == 30);
  CHECK(made == 1);
}
