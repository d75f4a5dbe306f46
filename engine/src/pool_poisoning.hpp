// engine/src/pool_poisoning.hpp — AddressSanitizer poisoning for the
// engine's pools (envelope_pool.cpp, timer_pool.cpp).
//
// A pool keeps freed blocks for reuse, so to ASan they are still allocated
// and a use after free of a pooled block would go unreported. Each pool
// poisons a block while it holds it free and unpoisons it when it hands it
// out again; then such a use is reported as long as the block has not been
// reused in between (which LIFO reuse makes short, not zero). Without ASan
// both calls are empty and compile to nothing.
//
// gcc says __SANITIZE_ADDRESS__, clang __has_feature(address_sanitizer).
// (tests/sanitizers.hpp has the tests' own copy: the library cannot include
// a test header.)
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define VOLLEY_POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VOLLEY_POOL_ASAN 1
#endif
#endif

#if defined(VOLLEY_POOL_ASAN)
#include <sanitizer/asan_interface.h>

#include <cstdio>
#endif

namespace volley::detail {

/// `n` bytes at `p` are off limits until pool_unpoison.
inline void pool_poison([[maybe_unused]] void* p, [[maybe_unused]] std::size_t n) noexcept {
#if defined(VOLLEY_POOL_ASAN)
  ASAN_POISON_MEMORY_REGION(p, n);
#endif
}

/// `n` bytes at `p` may be used again.
inline void pool_unpoison([[maybe_unused]] void* p, [[maybe_unused]] std::size_t n) noexcept {
#if defined(VOLLEY_POOL_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#endif
}

/// A block about to go back to its pool must be in use: a block freed
/// twice is poisoned already (its first free poisoned it), and a second
/// free would put it in a magazine twice, to be handed out to two owners.
/// Under ASan that is reported here, as ASan reports a double free of
/// malloc's memory; without ASan, nothing.
inline void pool_check_in_use([[maybe_unused]] void* p) noexcept {
#if defined(VOLLEY_POOL_ASAN)
  if (__asan_address_is_poisoned(p)) {
    std::fputs("volley: a pooled block freed twice (or never handed out); ASan's report:\n",
               stderr);
    __asan_report_error(__builtin_return_address(0), __builtin_frame_address(0),
                        __builtin_frame_address(0), p,
                        /*is_write=*/1, /*access_size=*/1);
  }
#endif
}

}  // namespace volley::detail
