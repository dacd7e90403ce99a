#include "sim/caching_allocator.h"

#include <algorithm>
#include <bit>

#include "sim/check.h"

namespace memsim::sim {

namespace {

// c10/cuda/CUDACachingAllocator.cpp (pytorch/pytorch 001074d): kMinBlockSize,
// kSmallSize, kSmallBuffer, kLargeBuffer, kMinLargeAlloc, kRoundLarge.
constexpr int64_t kMinBlockSize = 512;        // every size rounds to at least 512 bytes
constexpr int64_t kSmallSize = 1 << 20;       // the largest small request
constexpr int64_t kSmallBuffer = 2 << 20;     // small segments, and expandable small pages
constexpr int64_t kLargeBuffer = 20 << 20;    // large segments under 10 MiB, large pages
constexpr int64_t kMinLargeAlloc = 10 << 20;  // requests from here take their own segment
constexpr int64_t kRoundLarge = 2 << 20;      // which rounds to 2 MiB

int64_t round_up(int64_t value, int64_t step) {
  return (value + step - 1) / step * step;
}

int64_t power2_floor(int64_t value) {
  return int64_t{1} << (63 - std::countl_zero(static_cast<uint64_t>(value)));
}

/// roundup_power2_next_division: `size` up to the next of `divisions` equal steps
/// between the powers of two around it.
int64_t next_division(int64_t size, int64_t divisions) {
  if (std::has_single_bit(static_cast<uint64_t>(size))) return size;
  const int64_t floor = power2_floor(size);
  const int64_t step = floor >> (63 - std::countl_zero(static_cast<uint64_t>(divisions)));
  if (step == 0) return floor << 1;
  const int64_t down = size & ~(step - 1);
  return down == size ? size : down + step;
}

}  // namespace

int64_t CachingAllocator::round_size(int64_t bytes, int64_t divisions) {
  if (bytes < kMinBlockSize) return kMinBlockSize;
  if (divisions > 1 && bytes > kMinBlockSize * divisions) return next_division(bytes, divisions);
  return round_up(bytes, kMinBlockSize);
}

int64_t CachingAllocator::segment_size(int64_t size) {
  if (size <= kSmallSize) return kSmallBuffer;
  if (size < kMinLargeAlloc) return kLargeBuffer;
  return round_up(size, kRoundLarge);
}

CachingAllocator::CachingAllocator(AllocatorConfig config, int64_t device_bytes)
    : config_(config), device_bytes_(device_bytes) {
  MEMSIM_CHECK(device_bytes >= 0 && config.max_split_size > 0);
  small_.small = true;
}

int64_t CachingAllocator::allowed() const {
  if (config_.memory_fraction <= 0.0) return device_bytes_;
  return static_cast<int64_t>(config_.memory_fraction * static_cast<double>(device_bytes_));
}

void CachingAllocator::add_reserved(int64_t bytes) {
  reserved_ += bytes;
  peak_reserved_ = std::max(peak_reserved_, reserved_);
}

int32_t CachingAllocator::new_block(const Block& block) {
  if (spare_.empty()) {
    blocks_.push_back(block);
    return static_cast<int32_t>(blocks_.size() - 1);
  }
  const int32_t id = spare_.back();
  spare_.pop_back();
  blocks_[id] = block;
  return id;
}

void CachingAllocator::drop(int32_t id) {
  blocks_[id] = Block{};
  spare_.push_back(id);
}

void CachingAllocator::link(int32_t id, int32_t before, int32_t after) {
  blocks_[id].prev = before;
  blocks_[id].next = after;
  if (before >= 0) blocks_[before].next = id;
  if (after >= 0) blocks_[after].prev = id;
}

void CachingAllocator::cache(int32_t id) {
  Block& block = blocks_[id];
  Pool& pool = pool_of(block.small);
  block.gc_base = pool.searches;
  if (block.mapped) {
    pool.free.insert({block.size, block.address, id});
  } else {
    pool.unmapped.insert({block.address, id});
  }
}

void CachingAllocator::uncache(int32_t id) {
  const Block& block = blocks_[id];
  Pool& pool = pool_of(block.small);
  const size_t erased = block.mapped ? pool.free.erase({block.size, block.address, id})
                                     : pool.unmapped.erase({block.address, id});
  MEMSIM_CHECK(erased == 1);
}

CachingAllocator::Handle CachingAllocator::allocate(int64_t bytes) {
  MEMSIM_CHECK(bytes > 0);
  const int64_t size = round_size(bytes, config_.roundup_power2_divisions);
  Pool& pool = pool_of(size <= kSmallSize);
  int32_t id = -1;
  bool found = find_free(pool, size, id);
  if (!found) {
    if (collects_garbage()) collect_garbage();
    found = open_segment(pool, size, id) ||
            (release_oversize(pool, size) && open_segment(pool, size, id)) ||
            (release_cache(), open_segment(pool, size, id));
  }
  if (!found) {
    ++ooms_;
    return kOutOfMemory;
  }
  return take(id, size);
}

void CachingAllocator::free(Handle handle) {
  MEMSIM_CHECK(handle >= 0 && handle < static_cast<Handle>(blocks_.size()) &&
               blocks_[handle].allocated);
  blocks_[handle].allocated = false;
  allocated_ -= blocks_[handle].size;
  merge(handle, blocks_[handle].prev);
  merge(handle, blocks_[handle].next);
  cache(handle);
}

int64_t CachingAllocator::largest_free_block() const {
  int64_t largest = 0;
  for (const Pool* pool : {&small_, &large_}) {
    if (!pool->free.empty()) largest = std::max(largest, std::get<0>(*pool->free.rbegin()));
  }
  return largest;
}

/// get_free_block: the smallest cached block that fits, unless it is oversize for the
/// request (max_split_size).
bool CachingAllocator::find_free(Pool& pool, int64_t size, int32_t& found) {
  if (collects_garbage()) ++pool.searches;
  auto it = pool.free.lower_bound({size, std::numeric_limits<int64_t>::min(), -1});
  if (it == pool.free.end()) return false;
  if (blocks_[std::get<2>(*it)].expandable) {
    if (config_.expandable_segments) {
      it = best_expandable(pool, it);
    } else {
      while (it != pool.free.end() && blocks_[std::get<2>(*it)].expandable)
        ++it;
      if (it == pool.free.end()) return false;
    }
  }
  const int64_t block = std::get<0>(*it);
  const int64_t most = config_.max_split_size;
  if (size < most && block >= most) return false;
  if (size >= most && block >= size + kLargeBuffer) return false;
  found = std::get<2>(*it);
  pool.free.erase(it);
  return true;
}

/// Among expandable blocks, one that can grow into the unmapped space after it counts
/// that space: the search moves on while the next block would grow less.
CachingAllocator::FreeIt CachingAllocator::best_expandable(Pool& pool, FreeIt it) {
  const auto growable = [&](FreeIt at) {
    const Block& block = blocks_[std::get<2>(*at)];
    const bool grows = block.next >= 0 && !blocks_[block.next].mapped;
    return block.size + (grows ? blocks_[block.next].size : 0);
  };
  for (auto next = std::next(it); blocks_[std::get<2>(*it)].expandable && next != pool.free.end() &&
                                  growable(next) < growable(it);
       ++next)
    it = next;
  return it;
}

bool CachingAllocator::should_split(const Block& block, int64_t size) const {
  const int64_t remaining = block.size - size;
  if (block.small || config_.expandable_segments) return remaining >= kMinBlockSize;
  return size < config_.max_split_size && remaining > kSmallSize;
}

/// alloc_found_block: the block's first `size` bytes, the rest cached.
CachingAllocator::Handle CachingAllocator::take(int32_t id, int64_t size) {
  if (should_split(blocks_[id], size)) {
    Block front = blocks_[id];
    front.size = size;
    const int32_t head = new_block(front);
    link(head, blocks_[id].prev, id);
    blocks_[id].address += size;
    blocks_[id].size -= size;
    cache(id);
    id = head;
  }
  blocks_[id].allocated = true;
  allocated_ += blocks_[id].size;
  peak_allocated_ = std::max(peak_allocated_, allocated_);
  return id;
}

/// try_merge_blocks: `src`, when free and mapped alike, joins `dst` (in no cache set).
int64_t CachingAllocator::merge(int32_t dst, int32_t src) {
  if (src < 0 || blocks_[src].allocated || blocks_[src].mapped != blocks_[dst].mapped) return 0;
  uncache(src);
  const Block from = blocks_[src];
  Block& to = blocks_[dst];
  if (to.prev == src) {
    to.address = from.address;
    link(dst, from.prev, to.next);
  } else {
    link(dst, to.prev, from.next);
  }
  blocks_[dst].size += from.size;
  drop(src);
  return from.size;
}

/// alloc_block: a new segment, if the device has room.
bool CachingAllocator::open_segment(Pool& pool, int64_t size, int32_t& found) {
  if (config_.expandable_segments) return grow_expandable(pool, size, found);
  const int64_t bytes = segment_size(size);
  if (reserved_ + bytes > allowed()) return false;
  Block block;
  block.address = next_address_;
  block.size = bytes;
  block.small = pool.small;
  next_address_ += bytes;
  found = new_block(block);
  add_reserved(bytes);
  return true;
}

/// try_allocate_expandable_block: pages mapped from the lowest address with room, after
/// a free block there if there is one.
bool CachingAllocator::grow_expandable(Pool& pool, int64_t size, int32_t& found) {
  int32_t candidate = expandable_start(pool, size);
  if (!blocks_[candidate].mapped && !map(candidate, std::min(blocks_[candidate].size, size)))
    return false;
  while (blocks_[candidate].size < size) {
    const int32_t next = blocks_[candidate].next;
    if (!map(next, std::min(size - blocks_[candidate].size, blocks_[next].size))) return false;
    candidate = next;  // which took the candidate in
  }
  uncache(candidate);
  found = candidate;
  return true;
}

/// find_expandable_block: the lowest unmapped block (or the free block before it) with
/// `size` bytes of free or unmapped space from it on, or a new segment's address space,
/// 1 1/8 of the device.
int32_t CachingAllocator::expandable_start(Pool& pool, int64_t size) {
  const auto open = [&](int32_t id) { return id >= 0 && !blocks_[id].allocated; };
  for (const auto& [address, id] : pool.unmapped) {
    const int32_t start = open(blocks_[id].prev) ? blocks_[id].prev : id;
    int64_t room = 0;
    for (int32_t at = start; room < size && open(at); at = blocks_[at].next)
      room += blocks_[at].size;
    if (room >= size) return start;
  }
  const int64_t page = pool.small ? kSmallBuffer : kLargeBuffer;
  Block segment;
  segment.address = round_up(next_address_, kLargeBuffer);
  segment.size = round_up(device_bytes_ + device_bytes_ / 8, page);
  segment.mapped = false;
  segment.small = pool.small;
  segment.expandable = true;
  next_address_ = segment.address + segment.size;
  const int32_t id = new_block(segment);
  cache(id);
  return id;
}

/// map_block: the pages under the unmapped block's first `bytes`, if the device has them.
bool CachingAllocator::map(int32_t id, int64_t bytes) {
  const int64_t page = blocks_[id].small ? kSmallBuffer : kLargeBuffer;
  const int64_t mapped = round_up(bytes, page);
  if (reserved_ + mapped > allowed()) return false;
  uncache(id);
  blocks_[id].mapped = true;
  if (mapped < blocks_[id].size) {
    Block rest = blocks_[id];
    rest.address += mapped;
    rest.size -= mapped;
    rest.mapped = false;
    const int32_t tail = new_block(rest);
    link(tail, id, blocks_[id].next);
    blocks_[id].size = mapped;
    cache(tail);
  }
  merge(id, blocks_[id].prev);
  merge(id, blocks_[id].next);
  cache(id);
  add_reserved(mapped);
  return true;
}

/// release_available_cached_blocks: with max_split_size set, cached oversize segments,
/// one that fits or the largest until enough are freed.
bool CachingAllocator::release_oversize(Pool& pool, int64_t size) {
  const int64_t most = config_.max_split_size;
  if (most == AllocatorConfig::kUnlimited || config_.expandable_segments) return false;
  const int64_t key = std::max(size, most);
  auto it = pool.free.lower_bound({key, std::numeric_limits<int64_t>::min(), -1});
  if (it != pool.free.end()) {
    release_segment(std::get<2>(*it));
    return true;
  }
  int64_t released = 0;
  while (released < key && !pool.free.empty() && std::get<0>(*pool.free.rbegin()) >= most) {
    const int32_t largest = std::get<2>(*pool.free.rbegin());
    released += blocks_[largest].size;
    release_segment(largest);
  }
  return released >= key;
}

/// release_cached_blocks: every cached whole segment, and every free page of expandable
/// segments.
void CachingAllocator::release_cache() {
  release_pool(large_);
  release_pool(small_);
}

void CachingAllocator::release_pool(Pool& pool) {
  std::vector<int32_t> whole;
  std::vector<int32_t> to_unmap;
  for (const auto& [size, address, id] : pool.free) {
    const Block& block = blocks_[id];
    if (block.expandable) {
      to_unmap.push_back(id);
    } else if (block.prev < 0 && block.next < 0) {
      whole.push_back(id);
    }
  }
  for (const int32_t id : whole)
    release_segment(id);
  for (const int32_t id : to_unmap) {
    unmap(id);
    if (blocks_[id].prev < 0 && blocks_[id].next < 0 && !blocks_[id].mapped) {
      uncache(id);
      drop(id);  // release_expandable_segment: the whole address space is unmapped
    }
  }
}

void CachingAllocator::release_segment(int32_t id) {
  uncache(id);
  reserved_ -= blocks_[id].size;
  drop(id);
}

/// unmap_block: the whole pages inside a free expandable block go back to the device; the
/// bytes around them stay free and mapped.
void CachingAllocator::unmap(int32_t id) {
  const Block block = blocks_[id];
  const int64_t page = block.small ? kSmallBuffer : kLargeBuffer;
  const int64_t begin = round_up(block.address, page);
  const int64_t end = (block.address + block.size) / page * page;
  if (begin >= end) return;
  uncache(id);
  if (begin > block.address) {
    Block before = block;
    before.size = begin - block.address;
    const int32_t head = new_block(before);
    link(head, block.prev, id);
    cache(head);
  }
  if (end < block.address + block.size) {
    Block after = block;
    after.address = end;
    after.size = block.address + block.size - end;
    const int32_t tail = new_block(after);
    link(tail, id, block.next);
    cache(tail);
  }
  blocks_[id].address = begin;
  blocks_[id].size = end - begin;
  blocks_[id].mapped = false;
  merge(id, blocks_[id].prev);
  merge(id, blocks_[id].next);
  cache(id);
  reserved_ -= end - begin;
}

/// garbage_collect_cached_blocks: with a memory fraction set, once the reserved bytes pass
/// the threshold, whole cached large segments at least as old as the average (in free-block
/// searches since they were cached) are freed, until enough are.
void CachingAllocator::collect_garbage() {
  const auto threshold =
      static_cast<int64_t>(config_.garbage_collection_threshold * static_cast<double>(allowed()));
  if (reserved_ <= threshold) return;
  const int64_t target = reserved_ - threshold;
  const auto whole = [&](int32_t id) {
    return blocks_[id].prev < 0 && blocks_[id].next < 0 && !blocks_[id].expandable;
  };
  const auto age = [&](int32_t id) { return large_.searches - blocks_[id].gc_base; };
  int64_t total_age = 0;
  int64_t count = 0;
  for (const auto& [size, address, id] : large_.free) {
    if (!whole(id)) continue;
    total_age += age(id);
    ++count;
  }
  int64_t reclaimed = 0;
  bool freed = true;
  while (reclaimed < target && freed && count > 0) {
    const double average = static_cast<double>(total_age) / static_cast<double>(count);
    freed = false;
    std::vector<int32_t> old;
    for (const auto& [size, address, id] : large_.free) {
      if (whole(id) && static_cast<double>(age(id)) >= average) old.push_back(id);
    }
    for (const int32_t id : old) {
      freed = true;
      reclaimed += blocks_[id].size;
      total_age -= age(id);
      --count;
      release_segment(id);
    }
  }
}

}  // namespace memsim::sim
