#pragma once
// The benchmark figures of the top-level README, rendered from one named
// result file so that every figure there can be traced to a run.
//
// README.md holds two pairs of marker lines; `volley-bench report --readme
// README.md --from results/<machine>/<stamp>.json [--sweep-from
// results/<machine>/<stamp>.json]` replaces what is between them and leaves
// the rest of the file alone:
//
//     <!-- volley-bench:begin -->
//     ...generated from --from: the table, the machine state, remote and
//     memory figures, and the result file's name...
//     <!-- volley-bench:end -->
//     ...
//     <!-- volley-bench:sweep-begin -->
//     ...generated from --sweep-from (a worker sweep): the scaling table
//     results/README.md shows for it, and the file's name...
//     <!-- volley-bench:sweep-end -->
//
// Without --sweep-from the sweep block is left as it is; with it, a README
// lacking the sweep markers is an error, as for the first pair.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace volley::bench {

inline constexpr const char* readme_begin_marker = "<!-- volley-bench:begin -->";
inline constexpr const char* readme_end_marker = "<!-- volley-bench:end -->";
inline constexpr const char* readme_sweep_begin_marker = "<!-- volley-bench:sweep-begin -->";
inline constexpr const char* readme_sweep_end_marker = "<!-- volley-bench:sweep-end -->";

/// `text` with everything between the `begin` and `end` marker lines
/// replaced by `block` (the markers stay). std::nullopt when a marker is
/// missing, appears twice, or the end comes before the begin: the caller
/// must not guess.
std::optional<std::string> replace_between_markers(const std::string& text,
                                                   const std::string& block,
                                                   const char* begin = readme_begin_marker,
                                                   const char* end = readme_end_marker);

/// Markdown for the README from result file `data`, named `path` (as the
/// README should link it, relative to the repository root); `command` is the
/// one that renders it, named in the block (by default `--from path` alone).
std::string readme_block(const nlohmann::json& data, const std::string& path,
                         const std::string& command = "");

/// Markdown for the README's sweep block from worker-sweep file `data`,
/// named `path`: the scaling table of results/README.md (bench/runner/
/// scaling.hpp), each step's pair median, range, count below 0.90 and
/// verdict. Empty when `data` is not a sweep or has no step to compare.
std::string readme_sweep_block(const nlohmann::json& data, const std::string& path,
                               const std::string& command);

/// Renders `result_path` into `readme_path` between the first markers and,
/// when `sweep_path` is not empty, that sweep between the sweep markers;
/// returns the exit status (1 with a message, README untouched, when a file
/// cannot be read, the sweep file is not a sweep, or markers are not there).
int write_readme(const std::string& readme_path, const std::string& result_path,
                 const std::string& sweep_path = "");

}  // namespace volley::bench
