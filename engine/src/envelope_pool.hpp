// engine/src/envelope_pool.hpp — what the envelope pool holds, for tests and
// measurements (envelope_alloc and envelope_free are in envelope.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "cell_pool.hpp"

namespace volley::detail::envelope_pool {

/// The envelopes' chunks, depot cap and magazine size (as cell_pool's).
cell_pool::figures current() noexcept;

/// Magazines per class the envelopes' depot keeps (tests: 0 sends every
/// block the depot would keep back to its chunk).
void set_depot_cap(long magazines) noexcept;

/// The calling thread is a worker: its envelope allocations ask for the
/// next block's line one ahead, not `outside_lookahead` (envelope_pool.cpp).
void enter_worker_thread() noexcept;

/// A pool whose workers take every CPU the process may use starts (+1) or
/// stops (-1): while one runs, a thread that is not a worker and outruns
/// its receivers waits for envelopes to come back (envelope_pool.cpp).
void count_crowded_pool(int delta) noexcept;

/// Whether such a pool runs (a snapshot).
bool senders_share_cores() noexcept;

/// Whether this thread paces itself (volley::pace_this_thread; on unless
/// turned off): the outrun wait here and the scheduler's spawner yield.
bool paces_this_thread() noexcept;

/// How many such waits have begun in this process (tests).
std::uint64_t waits_for_returns() noexcept;

/// Of those waits: the naps they took, how many saw nothing come back, and
/// the time spent in all of them (measurements: VOLLEY_SCHED_STATS builds
/// print them with the scheduler's counts).
std::uint64_t naps_for_returns() noexcept;
std::uint64_t waits_without_return() noexcept;
std::uint64_t wait_ns() noexcept;
/// How often a thread's count of envelopes out was lowered to the pool's
/// (measurements), and the pool's own figure, in bytes (tests).
std::uint64_t counts_lowered() noexcept;
std::size_t bytes_out() noexcept;

}  // namespace volley::detail::envelope_pool
