#pragma once
// The benchmark figures of the top-level README, rendered from one named
// result file so that every figure there can be traced to a run.
//
// README.md holds two marker lines; `volley-bench report --readme README.md
// --from results/<machine>/<stamp>.json` replaces what is between them and
// leaves the rest of the file alone:
//
//     <!-- volley-bench:begin -->
//     ...generated: the table, the machine state, remote and memory figures,
//     and the result file's name...
//     <!-- volley-bench:end -->

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace volley::bench {

inline constexpr const char* readme_begin_marker = "<!-- volley-bench:begin -->";
inline constexpr const char* readme_end_marker = "<!-- volley-bench:end -->";

/// `text` with everything between the begin and end marker lines replaced by
/// `block` (the markers stay). std::nullopt when a marker is missing, appears
/// twice, or the end comes before the begin: the caller must not guess.
std::optional<std::string> replace_between_markers(const std::string& text,
                                                   const std::string& block);

/// Markdown for the README from result file `data`, named `path` (as the
/// README should link it, relative to the repository root).
std::string readme_block(const nlohmann::json& data, const std::string& path);

/// Renders `result_path` into `readme_path` between the markers; returns the
/// exit status (1 with a message when a file cannot be read or the markers
/// are not there).
int write_readme(const std::string& readme_path, const std::string& result_path);

}  // namespace volley::bench
