#pragma once
// One machine's section of results/README.md: its description, per size
// set the headline throughput table with its builds, latency and machine
// state, the latest sweep's scaling table and chart, the remote and
// idle-memory figures, and the list of its files.

#include "report_files.hpp"

#include <filesystem>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

namespace volley::bench {

/// "AMD EPYC (CPUID family/model/stepping 25/1/1)": the signature tells
/// apart two machines whose CPU name has no part number. Files before it
/// was recorded have none; a machine without one has "".
std::string cpu_text(const nlohmann::json& machine);

/// Writes machine `m`'s section; with `charts`, draws its charts under
/// root/charts/ and links them.
void machine_section(std::ostream& md, const machine_results& m, const std::filesystem::path& root,
                     bool charts);

}  // namespace volley::bench
