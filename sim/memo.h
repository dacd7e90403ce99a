#pragma once
/// Small memo tables for evaluations that revisit a few recent values: sweeps vary a few
/// keys at a time, so the last few results of a costly step are usually the ones needed
/// again. Keys are plain structs compared with `==` and hashed by derived_hash, so nothing
/// about a key is listed by hand.

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "sim/derived_hash.h"

namespace memsim::sim {

/// The last `kKept` values made, found by key. Each value gets an id never reused, so tables
/// derived from it can be keyed by the id; values stay put while cached.
template <typename Key, typename Value, size_t kKept = 16>
class RecentCache {
 public:
  struct Found {
    Value* value;
    uint64_t id;
  };

  /// The value for `key`, made by `make()` if it is not cached.
  template <typename Make>
  Found get(const Key& key, Make make) {
    ++clock_;
    // Consecutive lookups mostly ask for the same key: compare before hashing.
    if (last_ < hashes_.size() && entries_[last_].key == key) {
      used_[last_] = clock_;
      return {entries_[last_].value.get(), entries_[last_].id};
    }
    const uint64_t hash = derived_hash(key);
    for (size_t b = home(hash); buckets_[b] != 0; b = (b + 1) % kBuckets) {
      const size_t i = buckets_[b] - 1;
      if (hashes_[i] == hash && entries_[i].key == key) {
        used_[i] = clock_;
        last_ = i;
        return {entries_[i].value.get(), entries_[i].id};
      }
    }
    // Made before anything changes, so that a make() that throws leaves the cache as it was.
    auto value = std::make_unique<Value>(make());
    size_t slot = hashes_.size();
    if (slot < kKept) {
      hashes_.push_back(0);
      used_.push_back(0);
      entries_.emplace_back();
    } else {
      slot = static_cast<size_t>(std::min_element(used_.begin(), used_.end()) - used_.begin());
      unindex(slot);
    }
    index(hash, slot);
    hashes_[slot] = hash;
    used_[slot] = clock_;
    last_ = slot;
    entries_[slot] = {key, ++last_id_, std::move(value)};
    return {entries_[slot].value.get(), entries_[slot].id};
  }

 private:
  struct Entry {
    Key key;
    uint64_t id = 0;
    std::unique_ptr<Value> value;
  };
  /// The slots by their keys' hashes: open addressing with linear probing, at most half
  /// full, each bucket a slot + 1 (0: empty).
  static constexpr size_t kBuckets = std::bit_ceil(2 * kKept);
  static_assert(kKept < 65535, "slots are numbered in 16 bits");
  static size_t home(uint64_t hash) {
    // The top bits of a Fibonacci product mix every bit of the hash.
    return static_cast<size_t>((hash * 0x9E3779B97F4A7C15ULL) >>
                               (64 - std::bit_width(kBuckets - 1)));
  }
  void index(uint64_t hash, size_t slot) {
    size_t b = home(hash);
    while (buckets_[b] != 0)
      b = (b + 1) % kBuckets;
    buckets_[b] = static_cast<uint16_t>(slot + 1);
  }
  /// Takes `slot` out of the buckets, moving back the ones after it that probed past it
  /// (deletion without tombstones).
  void unindex(size_t slot) {
    size_t hole = home(hashes_[slot]);
    while (buckets_[hole] != slot + 1)
      hole = (hole + 1) % kBuckets;
    for (size_t b = (hole + 1) % kBuckets; buckets_[b] != 0; b = (b + 1) % kBuckets) {
      // An entry may fill the hole when its home is not cyclically in (hole, b].
      const size_t own = home(hashes_[buckets_[b] - 1]);
      if ((b - own) % kBuckets >= (b - hole) % kBuckets) {
        buckets_[hole] = buckets_[b];
        hole = b;
      }
    }
    buckets_[hole] = 0;
  }

  std::vector<uint64_t> hashes_;  ///< each slot's key's
  std::array<uint16_t, kBuckets> buckets_{};
  std::vector<uint64_t> used_;
  std::vector<Entry> entries_;
  size_t last_ = 0;  ///< the entry found last
  uint64_t last_id_ = 0;
  uint64_t clock_ = 0;
};

/// Slots for the last `kKept` small keys, for memo tables attached to what they derive from:
/// a miss recycles the least recently used slot, whose stale value (and its vectors'
/// storage) the caller overwrites.
template <typename Key, typename Value, size_t kKept>
class LastFew {
 public:
  /// The slot for `key`, and whether it was just taken (its value is to be filled in).
  std::pair<Value*, bool> get(const Key& key) {
    ++clock_;
    // Keys tend to come back in the order they came before (a sweep's innermost axis cycles):
    // the slot found after the last one found, the time before, is looked at first.
    const size_t guess = next_[last_];
    if (used_[guess] != 0 && keys_[guess] == key) return found(guess);
    // Hits are the common case: look for the key alone, and for the oldest only on a miss.
    for (size_t i = 0; i < kKept; ++i) {
      if (used_[i] != 0 && keys_[i] == key) return found(i);
    }
    const size_t oldest =
        static_cast<size_t>(std::min_element(used_.begin(), used_.end()) - used_.begin());
    keys_[oldest] = key;
    return {found(oldest).first, true};
  }

 private:
  std::pair<Value*, bool> found(size_t slot) {
    used_[slot] = clock_;
    next_[last_] = static_cast<uint8_t>(slot);
    last_ = slot;
    return {&values_[slot], false};
  }

  static_assert(kKept <= 256, "slots are numbered in a byte");
  std::array<Key, kKept> keys_{};
  std::array<Value, kKept> values_{};
  std::array<uint64_t, kKept> used_{};  ///< 0: empty
  std::array<uint8_t, kKept> next_{};   ///< per slot, the slot found after it last time
  size_t last_ = 0;                     ///< the slot found last
  uint64_t clock_ = 0;
};

/// One stored copy of each distinct value asked for, so that keys can hold large, rarely
/// varying parts (a cluster, an optimizer's settings) by address: equal values, one address.
template <typename T>
class Interned {
 public:
  const T* get(const T& value) {
    if (last_ != nullptr && *last_ == value) return last_;
    for (const auto& stored : values_) {
      if (*stored == value) return last_ = stored.get();
    }
    values_.push_back(std::make_unique<T>(value));
    return last_ = values_.back().get();
  }

 private:
  std::vector<std::unique_ptr<T>> values_;
  const T* last_ = nullptr;
};

}  // namespace memsim::sim
