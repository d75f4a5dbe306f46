// erlang_workload_list: writes savina_workloads.erl, the Erlang peer's list
// of workloads, from VOLLEY_SAVINA_WORKLOADS (parameters.hpp), the list
// volley and CAF register from, so that the list is written once; and
// beside it each workload's parameter bounds, from the rows of
// workload_specs() (parameters.cpp) that parameter_problem() reads for
// volley and CAF, so that every runtime refuses the same sizes.
//
//     erlang_workload_list OUTPUT.erl MODULE...
//
// MODULE... are the workload modules CMake found in src/ (every savina_*.erl
// but the support modules CMakeLists.txt names). One rule names a
// workload's module: "savina_" ++ the workload's name with - as _. A
// workload of the list without its module, or a module that is no workload
// of the list, is a build error that names it; OUTPUT is then not written.
#include <volley/savina/parameters.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::string_view workload_names[] = {
#define VOLLEY_SAVINA_NAME(function, name) name,
    VOLLEY_SAVINA_WORKLOADS(VOLLEY_SAVINA_NAME)
#undef VOLLEY_SAVINA_NAME
};

std::string module_of(std::string_view workload) {
  std::string module = "savina_" + std::string(workload);
  std::replace(module.begin(), module.end(), '-', '_');
  return module;
}

/// An Erlang number: an integer where the value is whole (as the command
/// line's "3" parses), `infinity` for no bound.
std::string erlang_number(double v) {
  if (std::isinf(v)) return "infinity";
  char buffer[40];
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buffer, sizeof buffer, "%.0f", v);
  else
    std::snprintf(buffer, sizeof buffer, "%.17g", v);
  return buffer;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: erlang_workload_list OUTPUT.erl MODULE...\n";
    return 1;
  }
  const std::set<std::string> modules(argv + 2, argv + argc);
  std::set<std::string> listed;
  int errors = 0;
  for (auto name : workload_names) {
    listed.insert(module_of(name));
    if (volley::savina::find_workload(name) == nullptr) {
      std::cerr << "erlang-savina: workload '" << name
                << "' of VOLLEY_SAVINA_WORKLOADS has no row in workload_specs() (parameters.cpp)\n";
      ++errors;
    }
    if (modules.count(module_of(name)) == 0) {
      std::cerr
          << "erlang-savina: workload '" << name
          << "' of VOLLEY_SAVINA_WORKLOADS has no Erlang module: write bench/peers/erlang/src/"
          << module_of(name) << ".erl\n";
      ++errors;
    }
  }
  for (const auto& module : modules)
    if (listed.count(module) == 0) {
      std::cerr << "erlang-savina: src/" << module
                << ".erl is no workload of VOLLEY_SAVINA_WORKLOADS (parameters.hpp): add the "
                   "workload there, or the module to erlang_savina_support_modules in "
                   "bench/peers/erlang/CMakeLists.txt if it is not one\n";
      ++errors;
    }
  if (errors > 0) return 1;

  std::ofstream out(argv[1]);
  out << "%% Generated at build time by bench/peers/erlang/workload_list.cpp from\n"
         "%% VOLLEY_SAVINA_WORKLOADS (bench/savina/common/include/volley/savina/\n"
         "%% parameters.hpp); edit that list, not this file.\n"
         "-module(savina_workloads).\n"
         "-export([all/0, bounds/1]).\n\n"
         "%% {Name, Module}, in the list's order.\n"
         "all() ->\n    [";
  const char* separator = "";
  for (auto name : workload_names) {
    out << separator << "{\"" << name << "\", " << module_of(name) << "}";
    separator = ",\n     ";
  }
  out << "].\n\n"
         "%% {Key, Least, Most, Whole} for each parameter of workload Name that\n"
         "%% not every number can be, in the row's order: savina_main refuses a\n"
         "%% run outside them as parameter_problem() does for volley and CAF.\n";
  for (auto name : workload_names) {
    out << "bounds(\"" << name << "\") ->\n    [";
    separator = "";
    for (const auto& row : volley::savina::find_workload(name)->params) {
      if (row.any()) continue;
      out << separator << "{\"" << row.key << "\", " << erlang_number(row.least) << ", "
          << erlang_number(row.most) << ", " << (row.whole ? "true" : "false") << "}";
      separator = ",\n     ";
    }
    out << "];\n";
  }
  out << "bounds(_) -> [].\n";
  out.close();
  if (!out) {
    std::cerr << "erlang_workload_list: cannot write " << argv[1] << "\n";
    return 1;
  }
  return 0;
}
