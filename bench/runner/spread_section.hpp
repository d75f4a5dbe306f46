#pragma once
// The report's section on issue 9's spread (mode_spread.hpp): a verdict
// line about volley and a table of every runtime's spread within one probe
// mode, issue 9's figure beside the stricter reading. results/README.md's
// machine pages and the top-level README's block show the same section.

#include <ostream>
#include <vector>

#include <nlohmann/json.hpp>

namespace volley::bench {

/// Writes the section for summary rows `rows` (one per workload, at one
/// worker count); nothing when no row has a "mode_spread" (files whose
/// runs the summary was not computed again from).
void spread_section(std::ostream& md, const std::vector<nlohmann::json>& rows);

}  // namespace volley::bench
