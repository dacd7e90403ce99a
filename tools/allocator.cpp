// jemalloc's settings for the memsim programs (jemalloc 5.3 manual, "TUNING" and the opt.*
// entries), and the heap's first region reserved at start.

#include <cstddef>
#include <cstdlib>

// Read by jemalloc when it starts (its `malloc_conf` symbol).
//
// thp:always and metadata_thp:always ask the kernel for transparent huge pages
// (madvise(MADV_HUGEPAGE)) for all of the heap, where the system leaves that to each program
// (the Debian default, /sys/kernel/mm/transparent_hugepage/enabled = madvise). A sweep keeps
// about 16 MiB of tables, orders and rows: with 4 KiB pages that is some 4,000 first-touch
// page faults, which in a virtual machine cost about 10 µs each, a fifth of the whole
// command's time; with 2 MiB pages, a few.
//
// oversize_threshold is jemalloc's default, written out because the reservation below
// depends on it: blocks from 8 MiB up come from an arena of their own.
extern "C" {
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): jemalloc's interface
const char* malloc_conf = "thp:always,metadata_thp:always,oversize_threshold:8388608";
}

namespace {

/// jemalloc maps its heap in steps that grow from 2 MiB (2, 2.5, 3, 3.5, 4, 5 MiB...). A
/// step rarely starts or ends on a 2 MiB boundary, and the part of it past the last
/// boundary stays in 4 KiB pages: on the 500k benchmark grid, 1,500 page faults more. One
/// block of 7 MiB (under oversize_threshold: the main arena's) asked for and given back at
/// start makes the first step 7 MiB and the later ones larger. It is never touched, so it
/// takes no memory until the heap uses it.
constexpr size_t kFirstRegion = size_t{7} << 20;

[[maybe_unused]] const bool kHeapReserved = [] {
  void* volatile block = std::malloc(kFirstRegion);  // volatile: kept, not optimised away
  std::free(block);
  return true;
}();

}  // namespace
