// jemalloc's settings for the memsim programs, read by jemalloc when it starts (its
// `malloc_conf` symbol; jemalloc 5.3 manual, "TUNING" and opt.thp).
//
// thp:always and metadata_thp:always ask the kernel for transparent huge pages
// (madvise(MADV_HUGEPAGE)) for all of the heap, where the system leaves that to each program
// (the Debian default, /sys/kernel/mm/transparent_hugepage/enabled = madvise). A sweep keeps
// about 16 MiB of tables, orders and rows: with 4 KiB pages that is some 4,000 first-touch
// page faults, which in a virtual machine cost about 10 µs each, a fifth of the whole
// command's time; with 2 MiB pages, a few.

extern "C" {
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): jemalloc's interface
const char* malloc_conf = "thp:always,metadata_thp:always";
}
