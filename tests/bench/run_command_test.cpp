// `volley-bench run` cut short: killed (SIGKILL), interrupted (SIGTERM) or
// stopped by --time-budget, it leaves a result file that parses and holds
// every run that finished and nothing of the one in progress. The runner
// runs volley's workloads only, at tiny sizes, so each case takes seconds.
#include "commands.hpp"
#include "environment.hpp"
#include "temp_folder.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

using nlohmann::json;
namespace fs = std::filesystem;
using volley::bench::testing::temp_folder;
using namespace std::chrono_literals;

extern char** environ;

namespace {

// The runner with volley only (the peers' paths empty: not built), writing
// under `results`, its output in `results`/runner.log.
pid_t start_runner(const fs::path& results, std::vector<std::string> args) {
  std::vector<std::string> argv = {VOLLEY_BENCH_BINARY, "run",
                                   "--results-dir",     results.string(),
                                   "--volley-binary",   VOLLEY_SAVINA_BINARY,
                                   "--caf-binary",      "",
                                   "--erlang-binary",   "",
                                   "--workers",         "2"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (auto& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);
  fs::create_directories(results);
  const auto log = (results / "runner.log").string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, raw[0], &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return status;
}

// The result file under `results` (results/<machine>/<stamp>.json), if any.
std::optional<fs::path> result_path(const fs::path& results) {
  std::error_code ec;
  for (const auto& machine : fs::directory_iterator(results, ec))
    if (machine.is_directory())
      for (const auto& entry : fs::directory_iterator(machine.path(), ec))
        if (entry.path().extension() == ".json") return entry.path();
  return std::nullopt;
}

json parse_file(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

// Polls until the result file appears (at most a minute); every version
// seen on the way must parse: a reader never sees half a file.
fs::path wait_for_result(const fs::path& results) {
  for (int i = 0; i < 6000; ++i) {
    if (auto path = result_path(results)) {
      CHECK_NOTHROW(parse_file(*path));
      return *path;
    }
    std::this_thread::sleep_for(10ms);
  }
  FAIL("no result file within a minute");
  return {};
}

// Every run in the file finished: it has a status and the child's times.
void check_whole_runs(const json& data) {
  for (const auto& run : data["runs"]) {
    CHECK(run.contains("status"));
    CHECK(run.contains("wall_s"));
    CHECK_FALSE(run.contains("interrupted"));
    if (run["status"] == "ok") CHECK(run.contains("throughput"));
    // What else the machine did meanwhile, and how the child waited.
    if (run["status"] == "ok") {
      // The busy shares come from /proc/stat's 10 ms ticks: a run shorter
      // than a tick may see none pass and has no share; a longer one must.
      if (run["wall_s"].get<double>() > 0.1) CHECK(run.contains("others_busy"));
      if (run.contains("others_busy")) {
        CHECK(run["others_busy"].get<double>() >= 0);
        CHECK(run["others_busy"].get<double>() <= 1);
        CHECK(run["machine_busy"].get<double>() >= run["others_busy"].get<double>());
      }
      CHECK(run["voluntary_switches"].get<long>() >= 0);
      CHECK(run["involuntary_switches"].get<long>() >= 0);
      CHECK(run["probe_before"]["compute_ns"].is_number());
      // One issue step per probe CPU, either side of the run.
      for (const char* when : {"probe_before", "probe_after"}) {
        CHECK(run[when]["issue_ns"].size() == data["probe_cpus"].size());
        for (const auto& ns : run[when]["issue_ns"]) CHECK(ns.is_number());
      }
      // volley's workers by name, sampled every 20 ms while it ran.
      if (run["runtime"] == "volley" && run["wall_s"].get<double>() > 0.1)
        CHECK(run["thread_cpu_s"].contains("volley-w0"));
    }
  }
}

}  // namespace

TEST_CASE("a runner killed by SIGKILL leaves a file with every finished run, marked partial") {
  temp_folder dir;
  // Ten short runs: the kill lands while most are still to come.
  const auto pid = start_runner(
      dir.path, {"--only", "ping-pong", "--repetitions", "10", "--param", "pings=20000"});
  const auto path = wait_for_result(dir.path);
  kill(pid, SIGKILL);
  wait_for(pid);
  auto data = parse_file(path);
  CHECK(data["schema_version"] == 4);
  CHECK(data["complete"] == false);
  CHECK(data["planned_runs"] == 10);
  CHECK(data["runs"].size() >= 1);
  CHECK(data["runs"].size() < 10);
  CHECK(data["summary"].size() == 1);
  check_whole_runs(data);
}

TEST_CASE("sizes that cannot make a run stop the runner before its first run") {
  temp_folder dir;
  // ping-pong is fine; the ring of no actors is refused for every runtime
  // at start, not when its turn comes.
  const int status = wait_for(start_runner(
      dir.path, {"--only", "ping-pong", "--only", "thread-ring", "--param", "actors=0"}));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  std::ifstream in(dir.path / "runner.log");
  const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  INFO(log);
  CHECK(log.find("bad parameters: thread-ring's actors must be at least 1, not 0") !=
        std::string::npos);
  CHECK(log.find("ping-pong") == std::string::npos);  // nothing ran
  CHECK_FALSE(result_path(dir.path).has_value());
}

TEST_CASE("SIGTERM stops the run in progress, writes the finished runs and exits non-zero") {
  temp_folder dir;
  // A short run first, then one that would take minutes.
  const auto pid =
      start_runner(dir.path, {"--only", "ping-pong", "--only", "counting", "--repetitions", "1",
                              "--param", "pings=20000", "--param", "messages=20000000000"});
  const auto path = wait_for_result(dir.path);
  std::this_thread::sleep_for(200ms);  // into the long run
  const auto signalled = std::chrono::steady_clock::now();
  kill(pid, SIGTERM);
  const int status = wait_for(pid);
  // Within run_child's poll period (1 s), with room for a loaded machine.
  CHECK(std::chrono::steady_clock::now() - signalled < 5s);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 128 + SIGTERM);
  auto data = parse_file(path);
  CHECK(data["complete"] == false);
  CHECK(data["stopped"] == "SIGTERM");
  REQUIRE(data["runs"].size() == 1);
  CHECK(data["runs"][0]["workload"] == "ping-pong");
  check_whole_runs(data);
}

TEST_CASE("a time budget runs what fits, then stops and says so in the file") {
  temp_folder dir;
  // The first run of each workload is admitted on the timeout's estimate
  // (1 s of 4); each later one on the slowest so far, so the runs stop
  // before 4 s.
  const auto started = std::chrono::steady_clock::now();
  const auto pid =
      start_runner(dir.path, {"--only", "ping-pong", "--only", "counting", "--repetitions", "200",
                              "--param", "pings=100000", "--param", "messages=200000", "--timeout",
                              "1", "--time-budget", "4"});
  const int status = wait_for(pid);
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(took < 6s);
  auto path = result_path(dir.path);
  REQUIRE(path);
  auto data = parse_file(*path);
  CHECK(data["complete"] == false);
  CHECK(data["stopped"] == "time budget");
  CHECK(data["run"]["time_budget_s"] == 4);
  REQUIRE(data["runs"].size() >= 2);
  CHECK(data["runs"].size() < 400);
  // Repetition by repetition: the first two runs are each workload's first.
  CHECK(data["runs"][0]["workload"] == "ping-pong");
  CHECK(data["runs"][1]["workload"] == "counting");
  CHECK(data["runs"][1]["repetition"] == 1);
  check_whole_runs(data);
  std::ifstream log(dir.path / "runner.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  CHECK(text.find("volley-bench: time budget:") != std::string::npos);
}

// start_runner gives the peers no binary, as a build without them has none:
// issue 9's "a machine without CAF or Erlang runs what it has and says so".
TEST_CASE("a run that finishes writes a complete file, and names the peers it lacked") {
  temp_folder dir;
  const auto pid = start_runner(
      dir.path, {"--only", "ping-pong", "--repetitions", "2", "--param", "pings=20000"});
  const int status = wait_for(pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  auto path = result_path(dir.path);
  REQUIRE(path);
  auto data = parse_file(*path);
  CHECK(data["complete"] == true);
  CHECK_FALSE(data.contains("stopped"));
  CHECK(data["runs"].size() == 2);
  CHECK_FALSE(fs::exists(path->string() + ".tmp"));
  CHECK(data["runtimes"]["volley"]["available"] == true);
  for (const auto& run : data["runs"]) CHECK(run["runtime"] == "volley");
  std::ifstream log(dir.path / "runner.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  for (const std::string peer : {"caf", "erlang"}) {
    INFO(peer << "\n" << text);
    CHECK(data["runtimes"][peer]["available"] == false);
    CHECK_FALSE(data.contains(peer + "_config"));
    CHECK(text.find("no " + peer + " workloads (not built)") != std::string::npos);
  }
}

TEST_CASE("a workload that timed out is not run again in later repetitions") {
  temp_folder dir;
  // 500M pings take tens of seconds; the timeout stops the first after 0.5.
  const auto status =
      wait_for(start_runner(dir.path, {"--only", "ping-pong", "--repetitions", "3", "--timeout",
                                       "0.5", "--param", "pings=500000000"}));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);  // a volley run that did not finish fails the suite
  auto data = parse_file(*result_path(dir.path));
  CHECK(data["complete"] == true);
  REQUIRE(data["runs"].size() == 3);
  CHECK(data["runs"][0]["status"] == "timeout");
  for (int rep : {1, 2}) {
    const auto& skipped = data["runs"][rep];
    CHECK(skipped["status"] == "skipped");
    CHECK(skipped["repetition"] == rep + 1);
    CHECK(skipped["reason"].get<std::string>().find("rep 1 timed out") != std::string::npos);
    // Not run: no child, so no times or probes.
    CHECK_FALSE(skipped.contains("wall_s"));
  }
  const auto& row = data["summary"][0]["volley"];
  CHECK(row["timeout"] == 1);
  CHECK(row["skipped"] == 2);
  CHECK(row["count"] == 0);
}

TEST_CASE("the runner samples the workers' CPUs while a run runs, unless told not to") {
  temp_folder sampled_dir, unsampled_dir;
  // 2M pings: 80 ms or more of ping-pong plus start-up, 8 intervals of 10 ms.
  const std::vector<std::string> run = {"--only", "ping-pong", "--repetitions",
                                        "1",      "--param",   "pings=2000000"};
  auto with_interval = [&](const char* ms) {
    auto argv = run;
    argv.insert(argv.end(), {"--sample-interval", ms});
    return argv;
  };
  REQUIRE(wait_for(start_runner(sampled_dir.path, with_interval("10"))) == 0);
  REQUIRE(wait_for(start_runner(unsampled_dir.path, with_interval("0"))) == 0);
  auto sampled = parse_file(*result_path(sampled_dir.path));
  auto unsampled = parse_file(*result_path(unsampled_dir.path));
  REQUIRE(sampled["runs"].size() == 1);
  const auto& during = sampled["runs"][0]["probe_during"];
  CHECK(during["interval_s"].get<double>() == Approx(0.01));
  // A compute and an issue step per sample, on every probe CPU.
  REQUIRE(during["compute_cpus_ns"].size() == sampled["probe_cpus"].size());
  for (std::size_t cpu = 0; cpu < sampled["probe_cpus"].size(); ++cpu) {
    CHECK(during["compute_cpus_ns"][cpu].size() >= 1);
    CHECK(during["issue_ns"][cpu].size() == during["compute_cpus_ns"][cpu].size());
  }
  REQUIRE(unsampled["runs"].size() == 1);
  CHECK_FALSE(unsampled["runs"][0].contains("probe_during"));
}

namespace {

// A stand-in for a remote benchmark: notes its start in `log` and prints
// one figure, as remote_bench and caf_remote_bench do.
// With `hang_after` > 0 it hangs (a minute) once `log` holds that many
// starts, so that a signal can land in a round.
fs::path fake_remote_bench(const fs::path& dir, const std::string& impl, const fs::path& log,
                           int hang_after = 0) {
  const auto path = dir / (impl + "_remote_bench");
  std::ofstream(path) << "#!/bin/sh\necho " << impl << " >> " << log.string() << "\n"
                      << (hang_after > 0 ? "[ $(wc -l < " + log.string() + ") -gt " +
                                               std::to_string(hang_after) + " ] && exec sleep 60\n"
                                         : std::string())
                      << "\necho '{\"bench\":\"remote\",\"impl\":\"" << impl
                      << "\",\"figure\":\"one_way\",\"value\":1.5,\"unit\":\"M msg/s\"}'\n";
  fs::permissions(path, fs::perms::owner_all);
  return path;
}

}  // namespace

TEST_CASE("a result file's local changes are changes to the source, not to results/") {
  temp_folder dir;
  const auto repo = dir.path.string();
  auto git = [&](const std::string& args) {
    REQUIRE(std::system(("git -C '" + repo + "' " + args + " >/dev/null 2>&1").c_str()) == 0);
  };
  auto write = [&](const std::string& name, const std::string& text) {
    std::filesystem::create_directories((dir.path / name).parent_path());
    std::ofstream(dir.path / name) << text;
  };
  git("init -q");
  write("engine.cpp", "1");
  write("results/README.md", "1");
  git("add .");
  git("-c user.name=t -c user.email=t@t commit -q -m one");
  CHECK(volley::bench::source_changed(repo) == false);
  write("results/README.md", "2");  // the suite's own report
  CHECK(volley::bench::source_changed(repo) == false);
  write("engine.cpp", "2");
  CHECK(volley::bench::source_changed(repo) == true);
  CHECK_FALSE(volley::bench::source_changed((dir.path / "nowhere").string()).has_value());
}

TEST_CASE("a whole suite runs the extras unless told not to; --only and a sweep need --extras") {
  using volley::bench::run_options;
  using volley::bench::runs_extras;
  run_options whole;  // ./volley.sh bench: README's remote and memory figures come with it
  CHECK(runs_extras(whole));
  run_options skipped = whole;
  skipped.no_extras = true;
  CHECK_FALSE(runs_extras(skipped));
  run_options only = whole;
  only.only = {"ping-pong"};
  CHECK_FALSE(runs_extras(only));
  run_options sweep = whole;
  sweep.sweep_workers = true;
  CHECK_FALSE(runs_extras(sweep));
  only.extras = true;
  sweep.extras = true;
  CHECK(runs_extras(only));
  CHECK(runs_extras(sweep));
}

TEST_CASE("the extras run volley's remote bench 5 times and CAF's 3, alternating, keeping each") {
  temp_folder dir;
  const auto log = dir.path / "remote.log";
  const auto volley = fake_remote_bench(dir.path, "volley", log);
  const auto caf = fake_remote_bench(dir.path, "caf", log);
  const auto pid =
      start_runner(dir.path / "results", {"--only", "ping-pong", "--repetitions", "1", "--param",
                                          "pings=20000", "--extras", "--remote-bench",
                                          volley.string(), "--caf-remote-bench", caf.string()});
  const int status = wait_for(pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // Round by round, as the workloads' repetitions run: drift hits both.
  std::ifstream in(log);
  std::string order, line;
  while (std::getline(in, line)) order += line + " ";
  CHECK(order == "volley caf volley caf volley caf volley volley ");
  auto path = result_path(dir.path / "results");
  REQUIRE(path);
  auto data = parse_file(*path);
  CHECK(data["complete"] == true);
  const auto& extras = data["extras"];
  for (auto [name, rounds] :
       {std::pair<const char*, int>{"remote (volley)", 5}, {"remote (CAF)", 3}}) {
    INFO(name);
    CHECK(extras[name]["status"] == "ok");
    CHECK(extras[name]["rounds_planned"] == rounds);
    REQUIRE(extras[name]["rounds"].size() == static_cast<std::size_t>(rounds));
    for (const auto& round : extras[name]["rounds"]) {
      CHECK(round["status"] == "ok");
      CHECK(round["wall_s"].is_number());
      REQUIRE(round["figures"].size() == 1);
      CHECK(round["figures"][0]["value"] == 1.5);
    }
  }
  // volley's idle memory, three rounds of 1 M actors; CAF's binary is not
  // given here.
  CHECK(extras["idle memory (volley)"]["rounds"].size() == 3);
  CHECK(extras["idle memory (CAF)"]["status"] == "not built");
}

TEST_CASE("SIGTERM during an extras round leaves that round out and keeps the rounds before it") {
  temp_folder dir;
  const auto log = dir.path / "remote.log";
  // volley's round 2 (the third start) hangs.
  const auto volley = fake_remote_bench(dir.path, "volley", log, 2);
  const auto caf = fake_remote_bench(dir.path, "caf", log);
  const auto pid =
      start_runner(dir.path / "results", {"--only", "ping-pong", "--repetitions", "1", "--param",
                                          "pings=20000", "--extras", "--remote-bench",
                                          volley.string(), "--caf-remote-bench", caf.string()});
  for (int i = 0; i < 6000; ++i) {
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text == "volley\ncaf\nvolley\n") break;
    std::this_thread::sleep_for(10ms);
  }
  std::this_thread::sleep_for(200ms);  // into the hanging round
  kill(pid, SIGTERM);
  const int status = wait_for(pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 128 + SIGTERM);
  auto path = result_path(dir.path / "results");
  REQUIRE(path);
  auto data = parse_file(*path);
  CHECK(data["stopped"] == "SIGTERM");
  const auto& extras = data["extras"];
  for (const char* name : {"remote (volley)", "remote (CAF)", "idle memory (volley)"}) {
    INFO(name);
    CHECK(extras[name]["rounds"].size() == 1);
    for (const auto& round : extras[name]["rounds"]) CHECK_FALSE(round.contains("interrupted"));
  }
  CHECK(extras["remote (volley)"]["stopped"] == "interrupted");
}
