// engine/src/envelope_pool.hpp — what the envelope pool holds, for tests and
// measurements (envelope_alloc and envelope_free are in envelope.hpp).
#pragma once

#include "cell_pool.hpp"

namespace volley::detail::envelope_pool {

/// The envelopes' chunks, depot cap and magazine size (as cell_pool's).
cell_pool::figures current() noexcept;

/// Magazines per class the envelopes' depot keeps (tests: 0 sends every
/// block the depot would keep back to its chunk).
void set_depot_cap(long magazines) noexcept;

}  // namespace volley::detail::envelope_pool
