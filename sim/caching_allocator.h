#pragma once
/// PyTorch's CUDA caching allocator on one stream, as c10/cuda/CUDACachingAllocator.cpp
/// (pytorch/pytorch 001074d, DeviceCachingAllocator) runs it: what a sequence of tensor
/// allocations and frees reserves from the device, not only what the tensors hold.
///
/// Requests are rounded to 512 bytes (or to a power-of-two division); those of 1 MiB or
/// less come from the small pool, packed in 2 MiB segments, larger ones from the large pool,
/// in 20 MiB segments below 10 MiB and in segments of their own size (2 MiB rounded) above.
/// A request takes the smallest cached free block that fits, split when the rest is worth
/// keeping; a freed block merges with its free neighbours. When the device refuses a new
/// segment, cached whole segments are released and the request tried again. Expandable
/// segments grow one segment per pool instead, in 2 MiB (small) or 20 MiB (large) pages.

#include <cstdint>
#include <limits>
#include <set>
#include <tuple>
#include <vector>

namespace memsim::sim {

/// PYTORCH_CUDA_ALLOC_CONF's settings (c10/cuda/CUDAAllocatorConfig.h), and the process's
/// memory fraction.
struct AllocatorConfig {
  static constexpr int64_t kUnlimited = std::numeric_limits<int64_t>::max();
  bool expandable_segments = false;
  /// Cached blocks this large are never split (max_split_size_mb, in bytes).
  int64_t max_split_size = kUnlimited;
  /// Requests over 512 × divisions bytes round up to the next of this many divisions of
  /// their power-of-two interval (roundup_power2_divisions; 0: 512-byte rounding).
  int64_t roundup_power2_divisions = 0;
  /// With a memory fraction set, cached whole segments are freed, oldest first, once the
  /// reserved bytes pass this share of the allowed ones (garbage_collection_threshold).
  double garbage_collection_threshold = 0.0;
  /// torch.cuda.set_per_process_memory_fraction; 0: not set.
  double memory_fraction = 0.0;
  bool operator==(const AllocatorConfig&) const = default;
};

class CachingAllocator {
 public:
  using Handle = int32_t;
  static constexpr Handle kOutOfMemory = -1;

  /// `device_bytes`: what the device can give this allocator.
  CachingAllocator(AllocatorConfig config, int64_t device_bytes);

  /// A block for `bytes`, or kOutOfMemory when the device cannot give one even after the
  /// cache is released (PyTorch's "CUDA out of memory").
  Handle allocate(int64_t bytes);
  void free(Handle handle);

  int64_t allocated() const { return allocated_; }  ///< bytes of allocated blocks
  int64_t reserved() const { return reserved_; }    ///< bytes of segments (mapped pages)
  int64_t peak_allocated() const { return peak_allocated_; }
  int64_t peak_reserved() const { return peak_reserved_; }
  /// The largest cached free block (torch.cuda.mem_get_info's view of the cache).
  int64_t largest_free_block() const;
  int64_t out_of_memory_count() const { return ooms_; }

  /// The size a request of `bytes` takes (round_size).
  static int64_t round_size(int64_t bytes, int64_t divisions);
  /// The segment a request of rounded `size` opens (get_allocation_size).
  static int64_t segment_size(int64_t size);

 private:
  struct Block {
    int64_t address = 0;
    int64_t size = 0;
    int32_t prev = -1;  ///< neighbours in the segment
    int32_t next = -1;
    bool allocated = false;
    bool mapped = true;
    bool small = false;
    bool expandable = false;
    int64_t gc_base = 0;  ///< the pool's free-block searches when it was cached
  };
  struct Pool {
    bool small = false;
    std::set<std::tuple<int64_t, int64_t, int32_t>> free;  ///< mapped: size, address, id
    std::set<std::pair<int64_t, int32_t>> unmapped;        ///< address, id
    int64_t searches = 0;
  };
  using FreeIt = std::set<std::tuple<int64_t, int64_t, int32_t>>::iterator;

  Pool& pool_of(bool small) { return small ? small_ : large_; }
  bool collects_garbage() const {
    return config_.memory_fraction > 0.0 && config_.garbage_collection_threshold > 0.0;
  }
  int32_t new_block(const Block& block);
  void drop(int32_t id);
  /// Places `id` between `before` and `after` (either -1 for none).
  void link(int32_t id, int32_t before, int32_t after);
  void cache(int32_t id);
  void uncache(int32_t id);
  int64_t allowed() const;
  void add_reserved(int64_t bytes);

  bool find_free(Pool& pool, int64_t size, int32_t& found);
  FreeIt best_expandable(Pool& pool, FreeIt it);
  bool should_split(const Block& block, int64_t size) const;
  Handle take(int32_t id, int64_t size);
  bool open_segment(Pool& pool, int64_t size, int32_t& found);
  bool grow_expandable(Pool& pool, int64_t size, int32_t& found);
  int32_t expandable_start(Pool& pool, int64_t size);
  bool map(int32_t id, int64_t bytes);
  int64_t merge(int32_t dst, int32_t src);
  bool release_oversize(Pool& pool, int64_t size);
  void release_cache();
  void release_pool(Pool& pool);
  void release_segment(int32_t id);
  void unmap(int32_t id);
  void collect_garbage();

  AllocatorConfig config_;
  int64_t device_bytes_;
  std::vector<Block> blocks_;
  std::vector<int32_t> spare_;  ///< ids of dropped blocks, reused
  Pool small_;
  Pool large_;
  int64_t next_address_ = 0;
  int64_t allocated_ = 0;
  int64_t reserved_ = 0;
  int64_t peak_allocated_ = 0;
  int64_t peak_reserved_ = 0;
  int64_t ooms_ = 0;
};

}  // namespace memsim::sim
