#pragma once
// The extras of a result file (remote benchmarks, idle-actor memory) over
// their rounds: each figure's median and range, the ratios that README and
// the report quote computed round by round, and the README's tables of both.
//
// An extras entry (result["extras"]["remote (volley)"], ...) from schema 4
// on holds `rounds`: one object per run of its program, each with status,
// wall_s, user_s, sys_s and the figures that run printed; `rounds_planned`
// says how many were asked for (fewer ran when a time budget or a signal
// stopped them: `stopped` says which). Files before schema 4 hold one run's
// `figures` at the entry itself; they read here as one round, so an old
// file renders as it did.
//
// Why ratios per round rather than a ratio of medians: a round's volley and
// raw-socket figures come from one process minutes apart at most, so a
// disturbance of the machine hits both; the ratio of two medians can pair
// a volley figure from a quiet round with a raw figure from a busy one.
// Ratios across programs (volley's remote bench against CAF's) pair round
// i of one with round i of the other: the runner runs them back to back.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "statistics.hpp"

namespace volley::bench {

/// An entry's rounds, each an object with a `figures` array: its `rounds`
/// (schema 4), or the entry itself as the one round of an older file; empty
/// when it has neither.
std::vector<nlohmann::json> extra_rounds(const nlohmann::json& entry);

/// A figure's value in one round (`impl` and `figure` as the program
/// printed them); std::nullopt when that round has no such figure.
std::optional<double> round_figure(const nlohmann::json& round, const std::string& impl,
                                   const std::string& figure);

/// One figure of an entry over its rounds.
struct figure_spread {
  std::string impl, figure, unit;
  summary values;          ///< over the rounds that have it
  std::size_t rounds = 0;  ///< rounds of the entry (with or without it)
};

/// Every figure of an entry, in the order the first round that has it
/// printed it.
std::vector<figure_spread> figure_spreads(const nlohmann::json& entry);

/// A ratio README or the report quotes: numerator over denominator, each an
/// (extras entry, impl, figure).
struct ratio_spec {
  std::string entry_a, impl_a, figure_a;
  std::string entry_b, impl_b, figure_b;
};

/// The quoted ratios: volley's one-way against the raw batched socket of
/// the same run, TLS one-way against plaintext (issue 8's "at least 50%"),
/// the default and busy-poll RTT p50 against raw's (issue 8's 1.1x and 2x),
/// and volley's one-way and RTT p50 against CAF's.
const std::vector<ratio_spec>& quoted_ratios();

/// A ratio over the rounds that have both figures (round i of entry_a with
/// round i of entry_b); count 0 when none has.
summary ratio_over_rounds(const nlohmann::json& extras, const ratio_spec& spec);

/// The tables of the extras (README.md's block, each machine's section of
/// results/README.md): per entry each figure as "median (min – max)" with
/// its number of rounds (an entry of one round as a plain value, as before
/// schema 4), then the quoted ratios that the file has. Values print as the
/// throughput tables' (si: "14.8", "1.23 k", "0.000640"), latencies given
/// in microseconds in the unit that suits them ("31.7 µs", "17.3 ms"),
/// sizes in bytes with the prefix on the unit ("1.22 kB", "0 B"). A range
/// whose ends print as the median does is left out ("128 B", not "128
/// (128 – 128) B").
std::string extras_markdown(const nlohmann::json& extras);

}  // namespace volley::bench
