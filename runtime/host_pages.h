// Host memory for large buffers (the CPU backend's device memory, the CLI's bandwidth probe):
// 2 MiB-aligned and, where Linux offers transparent huge pages (the "madvise" mode included),
// backed by huge pages.
//
// Why: a decode step walks K and V a few rows per 4 KiB page, so with small pages every few keys
// cost a page-table walk, and a 32k-token cache (64 MiB) is far past what the TLB maps (Zen 4:
// 3072 entries, 12 MiB). On the Zen 4 VM, bf16 GQA 8 from memory read 15.2-15.8 -> 16.8-17.2
// GB/s and f32 GQA 8 18.0-18.2 -> 20.8 GB/s on huge pages (decode micro harness, 1 thread, 32k;
// bench/RESULTS.md, round 13). GPU allocators use large pages for the same reason.
//
// The hint is best effort: where the kernel has no transparent huge pages, or they are off, or
// ATTNJIT_HUGE_PAGES=0, the memory is ordinary and huge_page_status() says why.
#pragma once

#include <cstddef>
#include <string>

namespace attnjit {

constexpr size_t kHugePageBytes = size_t(2) << 20;

// `bytes` (at least 1) aligned to `alignment` (a power of two; at least 64 is usual); from
// kHugePageBytes up, aligned to kHugePageBytes and advised to use huge pages. nullptr when the
// allocation fails. Free with release_host.
void* allocate_host(size_t bytes, size_t alignment);
void release_host(void* p) noexcept;

// Whether allocate_host asks for huge pages, and why not if it does not: "on (transparent huge
// pages: madvise)", or "off: ...". Decided once per process.
bool huge_pages_enabled();
const std::string& huge_page_status();

// The decision itself, from ATTNJIT_HUGE_PAGES's value (nullptr: unset) and the line of
// /sys/kernel/mm/transparent_hugepage/enabled ("always [madvise] never"; empty: no such file):
// the status, with `on` set. Separate so that tests can cover every case.
std::string decide_huge_pages(const char* env, const std::string& thp_enabled_line, bool& on);

// Bytes of the anonymous huge pages backing the mapping that holds `p` (/proc/self/smaps'
// AnonHugePages); -1 where that cannot be read. For tests and diagnostics.
long long huge_page_bytes_at(const void* p);

}  // namespace attnjit
