// The answer checks of the workloads can fail: for every workload of the
// suite, a run with one message dropped or duplicated must end with exit
// status 2 ("wrong result"), on volley, CAF and Erlang, and the same run
// without a fault must pass and print the JSON line the three share. The
// tiny sizes below are the only ones the peers' tests use (the Erlang
// tests in bench/peers/erlang/tests run its own cases only). They keep each
// run well under a second;
// --deadline turns a run that a lost message left waiting into a wrong
// answer instead of a hang. The runs of one runtime go four at a time (most
// of a faulty run is the deadline's wait), which keeps the whole test near
// half a minute on two cores.
#include "child_process.hpp"

#include <volley/savina/barber_shop.hpp>
#include <volley/savina/fault_injection.hpp>
#include <volley/savina/parameters.hpp>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

using namespace volley::bench;
using namespace std::chrono_literals;

namespace {

struct case_params {
  const char* workload;
  std::vector<std::string> params;
};

// Every workload of the suite, every parameter explicit, as the runner
// passes them. The sizes are tiny but each still sends the marked message
// (n-queens: threshold 3 makes workers send boards back; logistic map: the
// rates are past 3, where a term more or less changes the last one).
const std::vector<case_params>& cases() {
  static const std::vector<case_params> all = {
      {"ping-pong", {"pings=2000"}},
      {"counting", {"messages=20000"}},
      {"fork-join-throughput", {"messages=200", "actors=8"}},
      {"fork-join-creation", {"actors=2000", "spawn_from_actor=0"}},
      {"thread-ring", {"actors=10", "hops=5000"}},
      {"chameneos", {"chameneos=10", "meetings=2000"}},
      {"big", {"actors=8", "pings=300"}},
      {"concurrent-dictionary", {"workers=4", "messages=500", "write_percent=10"}},
      {"dining-philosophers", {"philosophers=5", "rounds=200"}},
      {"logistic-map", {"terms=300", "series=3", "start_rate=3.46", "increment=0.0025"}},
      {"bank-transaction", {"accounts=20", "transactions=2000"}},
      {"trapezoid", {"pieces=100000", "workers=4", "left=1", "right=5"}},
      {"n-queens", {"size=8", "workers=4", "threshold=3"}},
      {"sieve", {"limit=3000", "per_filter=20"}},
      {"quicksort", {"elements=5000", "threshold=256", "seed=1024"}},
      {"matrix-multiplication", {"dimension=32", "workers=4", "block_threshold=64"}},
      {"filter-bank", {"columns=500", "channels=4", "taps=8"}},
      {"fan-in-latency", {"senders=4", "messages=500", "window=4"}},
      {"fibonacci", {"n=12"}},
      {"concurrent-sorted-list",
       {"workers=4", "messages=500", "write_percent=10", "size_percent=1"}},
      {"producer-consumer",
       {"buffer=10", "producers=4", "consumers=4", "items=50", "produce_cost=1", "consume_cost=1"}},
      // Haircuts slower than arrivals: 156 of 200 customers are turned away
      // at least once, so the bounce path runs too.
      {"sleeping-barber",
       {"haircuts=200", "waiting_room=10", "arrival_rate=100", "haircut_rate=150"}},
      {"cigarette-smokers", {"rounds=1000", "smokers=20"}},
  };
  return all;
}

// A clean run has a generous deadline (it only guards against a hang); a
// faulty run's deadline is what ends a stalled workload, so it is short.
child_result run(const std::string& binary, const case_params& c, const std::string& fault) {
  std::vector<std::string> argv = {
      binary, "--workload", c.workload, "--workers", "2", "--deadline", fault.empty() ? "30" : "4"};
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
// `runtime` names it in the message: the test says which peer is missing.
bool available(const std::string& runtime, const std::string& binary) {
  if (!binary.empty() && access(binary.c_str(), X_OK) == 0) return true;
  if (std::getenv("CI") != nullptr)
    FAIL(runtime << "'s workload binary is not built, under CI: '" << binary << "'");
  WARN(runtime << "'s workload binary is not built: '" << binary << "'; skipped");
  return false;
}

// The workload binaries by runtime, as tests/bench/CMakeLists.txt found them.
const std::vector<std::pair<std::string, std::string>> binaries = {
    {"volley", VOLLEY_SAVINA_BINARY}, {"caf", CAF_SAVINA_BINARY}, {"erlang", ERLANG_SAVINA_BINARY}};

// A clean run prints the JSON line every workload binary shares
// (workload_main.hpp), whatever the runtime: the workload, the runtime, the
// workers and every parameter it was given, a positive time, message count
// and rate, the unit, and the percentiles of a latency workload. Its
// config names the runtime's settings as the result file records them
// (issue 9: each runtime's version and flags, with its warm-up): every
// field at `config_fields` (JSON pointers) is there and not empty.
void check_result_line(const std::string& out, const std::string& runtime, const case_params& c,
                       std::vector<std::string> config_fields) {
  const auto text = out.substr(0, out.find_last_not_of('\n') + 1);
  REQUIRE(text.find('\n') == std::string::npos);
  const auto line = nlohmann::json::parse(text, nullptr, false);
  INFO(text);
  REQUIRE(line.is_object());
  CHECK(line.value("workload", "") == c.workload);
  CHECK(line.value("runtime", "") == runtime);
  CHECK(line.value("workers", 0) == 2);
  const auto params = line.value("params", nlohmann::json::object());
  for (const auto& p : c.params) {
    INFO("--param " << p);
    CHECK(params.value(p.substr(0, p.find('=')), -1.0) == std::stod(p.substr(p.find('=') + 1)));
  }
  CHECK(line.value("elapsed_s", 0.0) > 0);
  CHECK(line.value("messages", 0) > 0);
  CHECK(line.value("throughput", 0.0) > 0);
  CHECK(line.value("unit", "").find("/s") != std::string::npos);
  if (std::string(c.workload) == "fan-in-latency")
    for (const char* field : {"p50_ns", "p99_ns", "p999_ns", "max_ns", "samples"})
      CHECK(line.value(field, 0) > 0);
  const auto config = line.value("config", nlohmann::json::object());
  config_fields.push_back("/warm_up");
  for (const auto& field : config_fields) {
    INFO("config" << field);
    const nlohmann::json::json_pointer at(field);
    REQUIRE(config.contains(at));
    CHECK(!config[at].empty());
    if (config[at].is_string()) CHECK(!config[at].get<std::string>().empty());
  }
}

struct fault_run {
  const case_params* c;
  std::string fault;  // "" for the clean run
  child_result result;
};

// Runs every workload clean, with a drop and with a dup, `parallel` runs at
// a time; the checks stay on the calling thread (Catch is not thread-safe).
// `runtime` names the runtime in the JSON line; `config_fields` is what the
// clean runs' config must hold (check_result_line).
void check_runtime(const std::string& runtime, const std::string& binary,
                   const std::vector<std::string>& config_fields) {
  if (!available(runtime, binary)) return;
  std::vector<fault_run> runs;
  for (const auto& c : cases())
    for (const char* fault : {"", "drop", "dup"}) runs.push_back({&c, fault, {}});
  std::atomic<std::size_t> next{0};
  constexpr int parallel = 4;
  std::vector<std::thread> pool;
  for (int t = 0; t < parallel; ++t)
    pool.emplace_back([&] {
      for (auto i = next.fetch_add(1); i < runs.size(); i = next.fetch_add(1))
        runs[i].result = run(binary, *runs[i].c, runs[i].fault);
    });
  for (auto& t : pool) t.join();
  for (const auto& r : runs) {
    INFO(binary << " " << r.c->workload << (r.fault.empty() ? " without a fault" : " with fault ")
                << r.fault << "\n"
                << r.result.err);
    if (r.fault.empty()) {
      CHECK(r.result.exit_code == 0);
      check_result_line(r.result.out, runtime, *r.c, config_fields);
    } else {
      CHECK(r.result.exit_code == 2);
      CHECK(r.result.err.find("WRONG RESULT") != std::string::npos);
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

TEST_CASE("the fault cases name every workload of the suite, once") {
  std::set<std::string> here;
  for (const auto& c : cases()) CHECK(here.insert(c.workload).second);
  std::set<std::string> suite;
  for (const auto& spec : volley::savina::workload_specs()) suite.insert(std::string(spec.name));
  CHECK(here == suite);
}

TEST_CASE("a dropped or duplicated message fails volley's workloads with exit 2") {
  check_runtime("volley", VOLLEY_SAVINA_BINARY, {"/workers", "/pin"});
}

TEST_CASE("a dropped or duplicated message fails CAF's workloads with exit 2") {
  // How caf-savina and libcaf were built (bench/peers/caf/CMakeLists.txt).
  check_runtime("caf", CAF_SAVINA_BINARY,
                {"/caf_version", "/scheduler.policy", "/build/compiler", "/build/flags",
                 "/libcaf/package", "/libcaf/library"});
}

TEST_CASE("a dropped or duplicated message fails Erlang's workloads with exit 2") {
  // The emulator's flags and how the .beam files were compiled (erlc).
  check_runtime("erlang", ERLANG_SAVINA_BINARY,
                {"/otp_release", "/erts_version", "/emulator_flags", "/busy_wait/sbwt",
                 "/erlc/compiler_version", "/erlc/options"});
}

// The sleeping barber decides who is turned away on a virtual clock, so
// every runtime must report the same work as the sequential replay; the
// timing race it replaced gave 0.08-0.76 M messages for the same 10,000
// haircuts depending on the runtime and the run, and 2,332-33,187 at this
// test's size (the answer here: 1,712).
TEST_CASE("every runtime turns away the same barber's customers as the draws say") {
  const auto& c = *std::find_if(cases().begin(), cases().end(), [](const case_params& x) {
    return std::string(x.workload) == "sleeping-barber";
  });
  const volley::savina::barber_sizes sizes{200, 10, 100, 150};
  const auto expected = volley::savina::expected_barber_work(sizes);
  REQUIRE(expected.turned_away > 0);
  for (const auto& [runtime, binary] : binaries) {
    if (!available(runtime, binary)) continue;
    auto r = run(binary, c, "");
    INFO(binary << "\n" << r.err);
    REQUIRE(r.exit_code == 0);
    const auto out = r.out.substr(0, r.out.find_last_not_of('\n') + 1);
    auto line = nlohmann::json::parse(out.substr(out.rfind('\n') + 1));  // npos + 1: the only line
    const auto& d = line.at("details");
    CHECK(d.at("turned_away") == expected.turned_away);
    CHECK(d.at("told_to_wait") == expected.told_to_wait);
    CHECK(d.at("barber_naps") == expected.naps);
    CHECK(d.at("arrival_steps") == expected.arrival_steps);
    CHECK(d.at("haircut_steps") == expected.haircut_steps);
    CHECK(line.at("messages") == expected.messages(sizes.haircuts));
  }
}

// Sizes that cannot make a run are a usage error (exit 1, "bad parameters"),
// said before anything runs, on every runtime and in the same words: not a
// wrong answer (exit 2), and not a division by zero (a ring of no actors) or
// a hang (one account has nobody to pay). The bounds are parameters.cpp's
// rows; Erlang reads them from the file its build generates from them, and
// checks the two rules that tie parameters together in its own modules.
TEST_CASE("every runtime refuses sizes that cannot make a run, before it starts") {
  struct refusal {
    case_params sizes;
    std::string says;
  };
  const std::vector<refusal> refusals = {
      {{"bank-transaction", {"accounts=1", "transactions=2000"}},
       "bank-transaction's accounts must be at least 2, not 1"},
      {{"thread-ring", {"actors=0", "hops=5000"}},
       "thread-ring's actors must be at least 1, not 0"},
      {{"fibonacci", {"n=61"}}, "fibonacci's n must be at most 60, not 61"},
      {{"ping-pong", {"pings=1.5"}},
       "ping-pong's pings counts, so it must be a whole number, not 1.5"},
      {{"concurrent-sorted-list",
        {"workers=2", "messages=10", "write_percent=60", "size_percent=50"}},
       "concurrent-sorted-list's write_percent and size_percent add up to more than 100"},
      {{"matrix-multiplication", {"dimension=10", "workers=2", "block_threshold=16"}},
       "matrix-multiplication's dimension 10 does not halve evenly down to the block threshold 16"},
  };
  for (const auto& [runtime, binary] : binaries) {
    if (!available(runtime, binary)) continue;
    for (const auto& r : refusals) {
      auto result = run(binary, r.sizes, "");
      INFO(binary << " " << r.sizes.workload << "\n" << result.err);
      CHECK(result.exit_code == 1);
      CHECK(result.err.find("bad parameters: " + r.says) != std::string::npos);
      CHECK(result.out.empty());
    }
  }
}

// Not a fault, but the other figure these binaries give the result file.
TEST_CASE("both runtimes report idle-actor memory as figure lines") {
  for (const auto& [runtime, binary] : binaries) {
    if (runtime == "erlang") continue;  // no idle-memory figure
    if (!available(runtime, binary)) continue;
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
