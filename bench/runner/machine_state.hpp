#pragma once
// The report's paragraph on the machine's state over one result file's
// runs: the cache-line round trip's median and range, steal, frequency,
// the compute and issue steps, the runs that count in no probe mode's
// spread (spread_cause.hpp) and those in another probe mode.

#include <ostream>

#include <nlohmann/json.hpp>

namespace volley::bench {

/// Writes the paragraph for result file `data`; nothing when its runs have
/// no probe.
void machine_state(std::ostream& md, const nlohmann::json& data);

}  // namespace volley::bench
