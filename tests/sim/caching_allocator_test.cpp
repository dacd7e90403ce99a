// PyTorch's CUDA caching allocator, modelled: each case's reserved bytes follow by hand
// from the rules of c10/cuda/CUDACachingAllocator.cpp (pytorch/pytorch 001074d), worked
// out in its comments.

#include "sim/caching_allocator.h"

#include <random>

#include <doctest/doctest.h>

namespace {

using memsim::sim::AllocatorConfig;
using memsim::sim::CachingAllocator;

constexpr int64_t kMiB = int64_t{1} << 20;

}  // namespace

TEST_CASE("requests round to 512 bytes, or to a power-of-two division") {
  CHECK(CachingAllocator::round_size(1, 0) == 512);
  CHECK(CachingAllocator::round_size(512, 0) == 512);
  CHECK(CachingAllocator::round_size(513, 0) == 1024);
  // Four divisions of [4096, 8192): 5000 rounds up to 5120; powers of two stay; sizes up
  // to 512 × 4 keep 512-byte rounding.
  CHECK(CachingAllocator::round_size(5000, 4) == 5120);
  CHECK(CachingAllocator::round_size(4096, 4) == 4096);
  CHECK(CachingAllocator::round_size(1200, 4) == 1536);
  // Segments: 2 MiB for small requests, 20 MiB up to 10 MiB, then the request's own size
  // in 2 MiB steps.
  CHECK(CachingAllocator::segment_size(kMiB) == 2 * kMiB);
  CHECK(CachingAllocator::segment_size(kMiB + 512) == 20 * kMiB);
  CHECK(CachingAllocator::segment_size(10 * kMiB) == 10 * kMiB);
  CHECK(CachingAllocator::segment_size(11 * kMiB + 512) == 12 * kMiB);
}

TEST_CASE("small requests share a 2 MiB segment, which stays cached when they are freed") {
  CachingAllocator allocator({}, 100 * kMiB);
  const auto a = allocator.allocate(1000);
  const auto b = allocator.allocate(1000);
  const auto c = allocator.allocate(1000);
  CHECK(allocator.allocated() == 3 * 1024);
  CHECK(allocator.reserved() == 2 * kMiB);
  for (const auto handle : {b, a, c})
    allocator.free(handle);
  CHECK(allocator.allocated() == 0);
  CHECK(allocator.reserved() == 2 * kMiB);
  CHECK(allocator.largest_free_block() == 2 * kMiB);  // merged back whole
}

TEST_CASE("requests under 10 MiB split a 20 MiB segment; a remainder of 1 MiB is not split") {
  CachingAllocator allocator({}, 100 * kMiB);
  // 1.5 MiB takes a 20 MiB segment and leaves 18.5 MiB (> 1 MiB: split off and cached);
  // 5 MiB comes from it, leaving 13.5 MiB.
  allocator.allocate(3 * kMiB / 2);
  allocator.allocate(5 * kMiB);
  CHECK(allocator.reserved() == 20 * kMiB);
  CHECK(allocator.allocated() == 13 * kMiB / 2);
  CHECK(allocator.largest_free_block() == 27 * kMiB / 2);
  // 12 MiB is cut from those 13.5 (1.5 MiB left is more than 1 MiB).
  const auto cut = allocator.allocate(12 * kMiB);
  CHECK(allocator.reserved() == 20 * kMiB);
  CHECK(allocator.largest_free_block() == 3 * kMiB / 2);
  allocator.free(cut);

  // On its own, 12 MiB opens a 12 MiB segment, which then serves 11 MiB whole: 1 MiB
  // left is not more than 1 MiB.
  CachingAllocator fresh({}, 100 * kMiB);
  fresh.free(fresh.allocate(12 * kMiB));
  fresh.allocate(11 * kMiB);
  CHECK(fresh.reserved() == 12 * kMiB);
  CHECK(fresh.allocated() == 12 * kMiB);
  CHECK(fresh.largest_free_block() == 0);
}

TEST_CASE("when the device is full, cached whole segments are released and the request retried") {
  // Three 30 MiB segments (90 MiB); two freed stay cached. 50 MiB fits none of them and
  // 90 + 50 passes the device's 100: the cached two are released (30 MiB left) and 50 fits.
  CachingAllocator allocator({}, 100 * kMiB);
  const auto a = allocator.allocate(30 * kMiB);
  allocator.allocate(30 * kMiB);
  const auto c = allocator.allocate(30 * kMiB);
  allocator.free(a);
  allocator.free(c);
  CHECK(allocator.allocate(50 * kMiB) != CachingAllocator::kOutOfMemory);
  CHECK(allocator.reserved() == 80 * kMiB);
  CHECK(allocator.peak_reserved() == 90 * kMiB);
  CHECK(allocator.allocated() == 80 * kMiB);
}

namespace {

/// A 60 MiB tensor, freed; two 20 MiB ones cut from its memory; the first freed; then
/// 30 MiB, on a device of 80 MiB.
int64_t fragmenting_run(CachingAllocator& allocator) {
  allocator.free(allocator.allocate(60 * kMiB));
  const auto first = allocator.allocate(20 * kMiB);
  allocator.allocate(20 * kMiB);
  allocator.free(first);
  return allocator.allocate(30 * kMiB);
}

}  // namespace

TEST_CASE("fragmentation: expandable segments fit what split segments cannot") {
  SUBCASE("segments: out of memory with 40 MiB free") {
    // The 60 MiB segment keeps 20 MiB free at each end of the second tensor: neither fits
    // 30 MiB, a new segment would pass 80 MiB, and a split segment cannot be released.
    CachingAllocator allocator({}, 80 * kMiB);
    CHECK(fragmenting_run(allocator) == CachingAllocator::kOutOfMemory);
    CHECK(allocator.reserved() == 60 * kMiB);
    CHECK(allocator.allocated() == 20 * kMiB);
    CHECK(allocator.out_of_memory_count() == 1);
  }
  SUBCASE("expandable segments: the free end grows into one more 20 MiB page") {
    // One segment maps three 20 MiB pages for 60 MiB. 30 MiB starts at the free 20 MiB
    // after the second tensor, maps the fourth page (80 MiB, the device) and merges it.
    AllocatorConfig config;
    config.expandable_segments = true;
    CachingAllocator allocator(config, 80 * kMiB);
    CHECK(fragmenting_run(allocator) != CachingAllocator::kOutOfMemory);
    CHECK(allocator.reserved() == 80 * kMiB);
    CHECK(allocator.allocated() == 50 * kMiB);
    CHECK(allocator.largest_free_block() == 20 * kMiB);
  }
}

TEST_CASE("max_split_size keeps oversize blocks whole and releases them first") {
  // With 40 MiB, a cached 60 MiB block is not cut for 20 MiB, which opens its own segment
  // (80 MiB reserved). For 30 MiB more on a 100 MiB device, the oversize block is released
  // before the retry: 20 + 30 MiB reserved.
  AllocatorConfig config;
  config.max_split_size = 40 * kMiB;
  CachingAllocator allocator(config, 100 * kMiB);
  allocator.free(allocator.allocate(60 * kMiB));
  allocator.allocate(20 * kMiB);
  CHECK(allocator.reserved() == 80 * kMiB);
  CHECK(allocator.allocate(30 * kMiB) != CachingAllocator::kOutOfMemory);
  CHECK(allocator.reserved() == 50 * kMiB);
}

TEST_CASE("with a memory fraction, garbage collection frees old cached segments early") {
  // Two 30 MiB segments, both freed, are cached one search old when 40 MiB finds no block.
  // At a threshold of half of 100 MiB, 60 MiB reserved is 10 over: both are as old as
  // the average and go; 40 MiB then opens a segment. Without collection they stay cached.
  const auto run = [](AllocatorConfig config) {
    CachingAllocator allocator(config, 100 * kMiB);
    const auto a = allocator.allocate(30 * kMiB);
    const auto b = allocator.allocate(30 * kMiB);
    allocator.free(a);
    allocator.free(b);
    allocator.allocate(40 * kMiB);
    return allocator.reserved();
  };
  AllocatorConfig collecting;
  collecting.memory_fraction = 1.0;
  collecting.garbage_collection_threshold = 0.5;
  CHECK(run(collecting) == 40 * kMiB);
  CHECK(run({}) == 100 * kMiB);
}

TEST_CASE("any sequence frees to nothing allocated, and reserves no less than it allocates") {
  for (const bool expandable : {false, true}) {
    CAPTURE(expandable);
    AllocatorConfig config;
    config.expandable_segments = expandable;
    CachingAllocator allocator(config, 4096 * kMiB);
    std::mt19937_64 rng(7);
    std::vector<CachingAllocator::Handle> live;
    for (int i = 0; i < 5000; ++i) {
      if (!live.empty() && rng() % 2 == 0) {
        const size_t k = rng() % live.size();
        allocator.free(live[k]);
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
      } else {
        const int64_t bytes = 1 + static_cast<int64_t>(rng() % (rng() % 4 == 0 ? 64 * kMiB : kMiB));
        const auto handle = allocator.allocate(bytes);
        REQUIRE(handle != CachingAllocator::kOutOfMemory);
        live.push_back(handle);
      }
      REQUIRE(allocator.allocated() <= allocator.reserved());
    }
    for (const auto handle : live)
      allocator.free(handle);
    CHECK(allocator.allocated() == 0);
    CHECK(allocator.peak_reserved() >= allocator.peak_allocated());
  }
}
