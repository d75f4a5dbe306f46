#pragma once
// results/README.md's closing section: each machine's newest figures side
// by side, volley's throughput and volley against the best peer, with
// their charts.

#include "report_files.hpp"

#include <filesystem>
#include <ostream>
#include <vector>

namespace volley::bench {

/// Writes the section (nothing when no machine has headline figures); with
/// `charts`, draws its charts under root/charts/ and links them.
void across_machines(std::ostream& md, const std::vector<machine_results>& machines,
                     const std::filesystem::path& root, bool charts);

}  // namespace volley::bench
