#pragma once
// The result files the report reads, by machine: every file of each
// machine, its latest worker sweep, its newest file with extras, and per
// size set the newest figures of each workload (the headline rows).
//
// A partial file (a run cut short: results_file.hpp) is used for the
// headline figures or the sweep only when the machine has no complete one
// of that kind.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace volley::bench {

/// One result file as the report read it.
struct result_file {
  std::filesystem::path path;  // relative to the results folder
  nlohmann::json data;         // its summary recomputed (current_summary)
};

// One workload's figures at one worker count, from the newest file that ran it.
struct headline_row {
  nlohmann::json row;  // an entry of the file's "summary"
  const result_file* file;
};

/// One machine's files, and which of them the report shows where.
struct machine_results {
  std::string id;
  nlohmann::json description;
  std::vector<result_file> files;              // oldest first
  const result_file* latest_sweep = nullptr;   // latest worker sweep
  const result_file* latest_extras = nullptr;  // newest with remote or idle-memory figures
  // Per size set ("reference" first), the newest figures of each workload
  // from runs without a sweep, in the suite's order. Runs with --only
  // refresh some rows and leave the others as they were.
  std::vector<std::pair<std::string, std::vector<headline_row>>> headlines;
};

/// Every result file under root/<machine>/*.json, by machine id (sorted),
/// each file's summary computed again from its runs (current_summary). A
/// file that cannot be read, or has a newer schema, is skipped with a
/// message on stderr.
std::vector<machine_results> load_all(const std::filesystem::path& root);

}  // namespace volley::bench
