// Tests of volley/affinity/cpu_list.hpp: the VOLLEY_CPUS syntax, good and bad
// inputs, with the exact error text a user sees.
#include "volley/affinity/cpu_list.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>

using namespace volley::affinity;
using list = std::vector<unsigned>;

namespace {
const std::string hint = "write OS PU indices and ranges separated by commas, such as \"0-3,8\"";

std::string error_of(std::string_view text, std::string_view origin = "VOLLEY_CPUS") {
  try {
    parse_cpu_list(text, origin);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST_CASE("cpu lists expand ranges and keep the order given", "[affinity][cpu_list]") {
  CHECK(parse_cpu_list("0") == list{0});
  CHECK(parse_cpu_list("0-3,8") == list{0, 1, 2, 3, 8});
  CHECK(parse_cpu_list("8,0-1") == list{8, 0, 1});
  CHECK(parse_cpu_list("5-5") == list{5});
  CHECK(parse_cpu_list(" 1 , 3 - 4 ") == list{1, 3, 4});
  CHECK(parse_cpu_list("65535") == list{65535});
}

TEST_CASE("an empty cpu list says how to get the default", "[affinity][cpu_list]") {
  CHECK(error_of("") == "VOLLEY_CPUS=\"\": the list is empty; " + hint +
                            ", or unset VOLLEY_CPUS for one worker per core");
  CHECK(error_of("  ") == "VOLLEY_CPUS=\"  \": the list is empty; " + hint +
                              ", or unset VOLLEY_CPUS for one worker per core");
}

TEST_CASE("malformed cpu list entries are named", "[affinity][cpu_list]") {
  CHECK(error_of("0-3,x") == "VOLLEY_CPUS=\"0-3,x\": \"x\" is not a PU index or range; " + hint);
  CHECK(error_of("-1") == "VOLLEY_CPUS=\"-1\": \"-1\" is not a PU index or range; " + hint);
  CHECK(error_of("1-2-3") ==
        "VOLLEY_CPUS=\"1-2-3\": \"1-2-3\" is not a PU index or range; " + hint);
  CHECK(error_of("0x3") == "VOLLEY_CPUS=\"0x3\": \"0x3\" is not a PU index or range; " + hint);
  CHECK(error_of("0,,1") == "VOLLEY_CPUS=\"0,,1\": entry 2 is empty; " + hint);
  CHECK(error_of("1,") == "VOLLEY_CPUS=\"1,\": entry 2 is empty; " + hint);
}

TEST_CASE("backwards ranges, duplicates and huge indices are rejected", "[affinity][cpu_list]") {
  CHECK(error_of("3-0") ==
        "VOLLEY_CPUS=\"3-0\": range \"3-0\" is backwards; write the lower index first, such as "
        "\"0-3\"");
  CHECK(error_of("0-3,2") == "VOLLEY_CPUS=\"0-3,2\": PU 2 is listed twice; list each PU once");
  CHECK(error_of("1,1") == "VOLLEY_CPUS=\"1,1\": PU 1 is listed twice; list each PU once");
  CHECK(error_of("70000") ==
        "VOLLEY_CPUS=\"70000\": PU index 70000 is out of range (at most 65535); " + hint);
  CHECK(error_of("0-99999999999") ==
        "VOLLEY_CPUS=\"0-99999999999\": PU index 99999999999 is out of range (at most 65535); " +
            hint);
}

TEST_CASE("the error names the origin of the list", "[affinity][cpu_list]") {
  CHECK(error_of("x", "engine.cpus") ==
        "engine.cpus=\"x\": \"x\" is not a PU index or range; " + hint);
}

TEST_CASE("cpu lists format runs as ranges", "[affinity][cpu_list]") {
  CHECK(format_cpu_list(list{}) == "");
  CHECK(format_cpu_list(list{5}) == "5");
  CHECK(format_cpu_list(list{0, 1}) == "0-1");
  CHECK(format_cpu_list(list{0, 1, 2, 3, 8}) == "0-3,8");
  CHECK(format_cpu_list(list{3, 1}) == "3,1");
  CHECK(parse_cpu_list(format_cpu_list(list{4, 5, 6, 0, 9, 10})) == list{4, 5, 6, 0, 9, 10});
}
