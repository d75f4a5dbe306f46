// volley::affinity cpu lists — the "0-3,8" syntax of VOLLEY_CPUS (the same
// syntax as taskset -c and /sys/devices/system/cpu/online).
//
// A list names OS PU indices: single indices and inclusive ranges, separated
// by commas; blanks around entries are allowed. Order is kept (worker i runs
// on the i-th PU listed). Each PU may appear once.
//
// Use parse_cpu_list() to read a list and format_cpu_list() to print one, e.g.
// in error messages and benchmark notes. Whether the PUs exist is checked
// later, against a topology, by make_plan().
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace volley::affinity {

/// The largest PU index a list may name. Linux kernels are built for at most
/// 8192 CPUs (CONFIG_NR_CPUS); the bound is well above that and only stops a
/// typo such as "0-4000000000" from allocating gigabytes.
inline constexpr unsigned max_cpu_list_index = 65535;

/// Parses `text` into OS PU indices, in the order given, ranges expanded.
/// `origin` names where the text came from, for the error message.
/// Throws std::invalid_argument on an empty list, a malformed entry, a
/// backwards range, an index above max_cpu_list_index or a PU listed twice;
/// the message quotes the input, says what is wrong and what to write instead,
/// e.g. `VOLLEY_CPUS="0-3,2": PU 2 is listed twice; list each PU once`.
std::vector<unsigned> parse_cpu_list(std::string_view text,
                                     std::string_view origin = "VOLLEY_CPUS");

/// Formats indices in the same syntax, runs of consecutive ascending indices
/// as ranges: {0,1,2,3,8} -> "0-3,8", {3,1} -> "3,1", {} -> "".
std::string format_cpu_list(std::span<const unsigned> indices);

}  // namespace volley::affinity
