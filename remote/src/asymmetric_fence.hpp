// remote/src/asymmetric_fence.hpp — whether a store-buffering handshake may
// put a compiler fence on its hot side and membarrier on its cold side.
//
// Two handshakes use it: a sender's claim on the transport against shutdown
// (node.cpp, transport_claim) and a sending thread's staged chain against a
// sweeper (stage_handshake.hpp). Each send asks twice, so the answer is read
// inline from one byte: the function-local static this replaces cost a call
// and its init guard per ask (~20 instructions a message on the sending
// thread, callgrind, remote_bench one-way).
//
// The answer must never change once given: a claim made with a plain store
// is only ordered by a later fence_all_threads(). The kernel is asked once
// per racing first caller and the first answer stored wins (a CAS), so a
// seccomp filter installed later cannot make two threads disagree.
#pragma once

#include <atomic>
#include <cstdint>

namespace volley::remote::detail {

/// 0: not asked yet; 1: membarrier(PRIVATE_EXPEDITED) registered; 2: refused.
extern std::atomic<std::uint8_t> asymmetric_fence_state;

/// Asks the kernel and stores the first answer (node.cpp); returns it.
bool register_asymmetric_fence() noexcept;

/// Whether membarrier(PRIVATE_EXPEDITED) is registered for this process:
/// then one side of a store-buffering handshake may use a compiler fence and
/// the other calls fence_all_threads(). Relaxed: the byte orders nothing, and
/// once set it never changes.
/// Registered is tested first: one compare on the path every send takes.
inline bool asymmetric_fence() noexcept {
  std::uint8_t state = asymmetric_fence_state.load(std::memory_order_relaxed);
  if (state == 1) [[likely]]
    return true;
  return state == 0 && register_asymmetric_fence();
}

/// Every running thread of this process passes a full barrier before this returns.
void fence_all_threads() noexcept;

}  // namespace volley::remote::detail
