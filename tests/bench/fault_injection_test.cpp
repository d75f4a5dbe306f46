// The answer checks of the workloads can fail: a run with one message
// dropped or duplicated must end with exit status 2 ("wrong result"), on
// volley and on CAF, and the same run without a fault must pass. Small
// sizes keep each run well under a second; --deadline turns a run that a
// lost message left waiting into a wrong answer instead of a hang.
#include "child_process.hpp"

#include <volley/savina/fault_injection.hpp>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include <unistd.h>

using namespace volley::bench;
using namespace std::chrono_literals;

namespace {

struct case_params {
  const char* workload;
  std::vector<std::string> params;
};

// Every parameter explicit, as the runner passes them.
const std::vector<case_params>& cases() {
  static const std::vector<case_params> all = {
      {"ping-pong", {"pings=2000"}},
      {"counting", {"messages=20000"}},
      {"fork-join-throughput", {"messages=200", "actors=8"}},
      {"thread-ring", {"actors=10", "hops=5000"}},
      {"big", {"actors=8", "pings=300"}},
      {"concurrent-dictionary", {"workers=4", "messages=500", "write_percent=10"}},
      {"bank-transaction", {"accounts=20", "transactions=2000"}},
  };
  return all;
}

child_result run(const std::string& binary, const case_params& c, const std::string& fault) {
  std::vector<std::string> argv = {binary, "--workload", c.workload, "--workers",
                                   "2",    "--deadline", "5"};
  for (const auto& p : c.params) {
    argv.push_back("--param");
    argv.push_back(p);
  }
  if (!fault.empty()) {
    argv.push_back("--inject-fault");
    argv.push_back(fault);
  }
  return run_child(argv, 60s);
}

// A runtime that is not built is skipped on a developer's machine and fails
// under CI, where ./volley.sh installs every peer.
bool available(const std::string& binary) {
  if (!binary.empty() && access(binary.c_str(), X_OK) == 0) return true;
  if (std::getenv("CI") != nullptr) FAIL("workload binary not built under CI: '" << binary << "'");
  WARN("workload binary not built: '" << binary << "'; skipped");
  return false;
}

void check_runtime(const std::string& binary) {
  if (!available(binary)) return;
  for (const auto& c : cases()) {
    INFO(binary << " " << c.workload);
    auto clean = run(binary, c, "");
    INFO(clean.err);
    CHECK(clean.exit_code == 0);
    for (const char* fault : {"drop", "dup"}) {
      INFO("fault " << fault);
      auto broken = run(binary, c, fault);
      INFO(broken.err);
      CHECK(broken.exit_code == 2);
      CHECK(broken.err.find("WRONG RESULT") != std::string::npos);
    }
  }
}

}  // namespace

TEST_CASE("an armed fault hits exactly one marked send") {
  using namespace volley::savina;
  CHECK(copies_of_marked_message() == 1);
  inject_fault(fault::drop);
  CHECK(copies_of_marked_message() == 0);
  CHECK(copies_of_marked_message() == 1);
  inject_fault(fault::dup);
  CHECK(copies_of_marked_message() == 2);
  CHECK(copies_of_marked_message() == 1);
  fault f = fault::none;
  CHECK(parse_fault("dup", f));
  CHECK(f == fault::dup);
  CHECK_FALSE(parse_fault("corrupt", f));
}

TEST_CASE("a dropped or duplicated message fails volley's workloads with exit 2") {
  check_runtime(VOLLEY_SAVINA_BINARY);
}

TEST_CASE("a dropped or duplicated message fails CAF's workloads with exit 2") {
  check_runtime(CAF_SAVINA_BINARY);
}

// Not a fault, but the other figure these binaries give the result file.
TEST_CASE("both runtimes report idle-actor memory as figure lines") {
  for (const std::string binary : {VOLLEY_SAVINA_BINARY, CAF_SAVINA_BINARY}) {
    if (!available(binary)) continue;
    auto r = run_child({binary, "--idle-memory", "20000", "--workers", "2"}, 60s);
    INFO(binary << "\n" << r.err);
    REQUIRE(r.exit_code == 0);
    auto first = nlohmann::json::parse(r.out.substr(0, r.out.find('\n')));
    CHECK(first["bench"] == "idle-memory");
    CHECK(first["figure"].get<std::string>().find("RSS growth per idle actor") !=
          std::string::npos);
    // An idle actor costs something, and less than a page table's worth.
    CHECK(first["value"].get<double>() > 0);
    CHECK(first["value"].get<double>() < 100'000);
  }
}
