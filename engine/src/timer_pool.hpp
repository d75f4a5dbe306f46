// engine/src/timer_pool.hpp — what the timer pool (timer_pool.cpp) tells
// its tests. Allocation itself is declared beside the nodes that use it
// (volley/engine/detail/timer.hpp: timer_allocate, timer_deallocate).
#pragma once

#include <cstddef>

namespace volley::detail {

/// Free slots the pool's shared depot holds now (not those in threads' own
/// lists): what a burst of timers leaves behind once its nodes are freed.
std::size_t timer_pool_depot_slots() noexcept;

}  // namespace volley::detail
