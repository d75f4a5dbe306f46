// The suite bundle (bench/tools/make-bundle.sh, `./volley.sh bundle`) runs
// from wherever it is extracted, with a clean environment: every runtime
// that was built reports an ok run, and the result file names the bundle's
// own binaries, not the build tree's or the host's.
#include "child_process.hpp"

#include "temp_folder.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

using namespace volley::bench;
using nlohmann::json;
namespace fs = std::filesystem;
using volley::bench::testing::temp_folder;
using namespace std::chrono_literals;

namespace {

void require_success(const child_result& r) {
  INFO(tail_lines(r.err, 20));
  REQUIRE_FALSE(r.timed_out);
  REQUIRE(r.exit_code == 0);
}

}  // namespace

TEST_CASE("the bundle runs every built runtime from another folder with a clean environment") {
  temp_folder built, elsewhere;
  const auto tarball = (built.path / "volley-suite-test.tar.gz").string();
  require_success(run_child({"bash", MAKE_BUNDLE_SCRIPT, BUILD_DIR, tarball}, 300s));
  require_success(run_child({"tar", "-C", elsewhere.path.string(), "-xzf", tarball}, 60s));
  fs::remove(tarball);
  const auto bundle = elsewhere.path / "volley-suite-test";
  // No LD_LIBRARY_PATH, no ERL_ROOTDIR, no HOME: what the bundle needs, it carries.
  require_success(
      run_child({"env", "-i", "PATH=/usr/bin:/bin", (bundle / "run").string(), "--only",
                 "ping-pong", "--repetitions", "1", "--workers", "2", "--param", "pings=20000"},
                120s));

  // The micro benchmarks (when built) start from their own folder too.
  if (fs::exists(bundle / "micro"))
    for (const auto& micro : fs::directory_iterator(bundle / "micro")) {
      INFO(micro.path());
      require_success(run_child(
          {"env", "-i", "PATH=/usr/bin:/bin", micro.path().string(), "--benchmark_list_tests"},
          60s));
    }

  fs::path result;
  for (const auto& machine : fs::directory_iterator(bundle / "results"))
    for (const auto& entry : fs::directory_iterator(machine.path()))
      if (entry.path().extension() == ".json") result = entry.path();
  REQUIRE_FALSE(result.empty());
  std::ifstream in(result);
  const auto data = json::parse(in);
  CHECK(data["complete"] == true);

  std::map<std::string, std::string> status;
  for (const auto& run : data["runs"])
    status[run["runtime"].get<std::string>()] = run["status"].get<std::string>();
  std::vector<std::string> expected = {"volley"};
  if (BUNDLE_HAS_CAF) expected.push_back("caf");
  if (BUNDLE_HAS_ERLANG) expected.push_back("erlang");
  for (const auto& runtime : expected) {
    INFO(runtime);
    CHECK(status[runtime] == "ok");
    const auto path = data["runtimes"][runtime]["path"].get<std::string>();
    CHECK(path.rfind(bundle.string() + "/", 0) == 0);
  }
}
