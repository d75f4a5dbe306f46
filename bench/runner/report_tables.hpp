#pragma once
// The cells and tables that results/README.md's machine pages and the
// top-level README's generated block share: a runtime's median and range,
// volley against the best peer, the throughput, latency and scaling tables,
// and the marks of a partial result file.

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace volley::bench {

/// " (partial: 69 of 207 runs)" for a partial file, else "".
std::string partial_mark(const nlohmann::json& data);

/// " (partial: ...; 2 of 3 repetitions)": the file's mark and, when the row
/// has fewer repetitions than planned, how many it has.
std::string row_mark(const nlohmann::json& row, const nlohmann::json& data);

/// A runtime summary's median ("3.07 M"), or why there is none ("failed",
/// "timeout", "WRONG"); "–" for a runtime that did not run.
std::string figure(const nlohmann::json& runtime_summary);

/// "CAF", "Erlang/OTP", "volley": a runtime as the tables name it.
std::string display_name(const std::string& runtime);

/// The peer volley is held against in a summary row; "" when none.
std::string best_peer_of(const nlohmann::json& row);

/// "3.29× (worst 2.59×) vs Erlang/OTP", or why the row has no ratio.
std::string best_peer_ratio(const nlohmann::json& row);

/// " (compute-bound)" or " (timing-dependent)" from the workload registry;
/// "" for a message-bound or unknown workload.
std::string kind_suffix(const std::string& workload);

/// The runtimes that have a figure in any of `rows`, volley first.
std::vector<std::string> runtimes_in(const std::vector<nlohmann::json>& rows);

/// The throughput table's head for `runtimes`, with a "run" column (the
/// result file of each row) when `with_run`.
void throughput_table_head(std::ostream& md, const std::vector<std::string>& runtimes,
                           bool with_run);

/// One throughput row without its line end; `note` follows the workload's
/// name (a partial file's "(2 of 3 repetitions)").
void throughput_table_row(std::ostream& md, const nlohmann::json& row,
                          const std::vector<std::string>& runtimes, const std::string& note = "");

/// A worker sweep's scaling table with what its cells mean, or "" when the
/// file has no step to compare.
std::string scaling_section(const nlohmann::json& data);

/// The latency table of the rows that have percentiles; nothing when none
/// has.
void latency_table(std::ostream& md, const std::vector<nlohmann::json>& rows);

/// A runtime summary's median; std::nullopt without a successful run.
std::optional<double> median_of(const nlohmann::json& runtime_summary);

/// Rows of a summary in the suite's workload order.
std::vector<nlohmann::json> ordered_rows(const nlohmann::json& summary);

}  // namespace volley::bench
