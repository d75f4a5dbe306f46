#include "environment.hpp"

#include "child_process.hpp"

#include <volley/affinity/machine_info.hpp>
#include <volley/affinity/topology.hpp>

#include <optional>

namespace volley::bench {

nlohmann::json describe_machine() {
  auto topo = affinity::topology::detect();
  auto info = affinity::describe_machine(topo);
  auto caches = nlohmann::json::array();
  for (const auto& c : info.caches)
    caches.push_back({{"level", c.level},
                      {"size_bytes", c.size_bytes},
                      {"count", c.count},
                      {"pus_per_cache", c.pus_per_cache}});
  return {
      {"machine_id", info.machine_id},
      {"cpu_model", info.cpu_model},
      {"cpu_signature", info.cpu_signature},
      {"packages", info.packages},
      {"numa_nodes", info.numa_nodes},
      {"cores", info.cores},
      {"pus", info.pus},
      {"caches", caches},
      {"memory_bytes", info.memory_bytes},
      {"kernel", info.kernel},
      {"hostname", info.hostname},
  };
}

int default_workers() {
  return static_cast<int>(affinity::topology::detect().cores());
}

namespace {

// The output of git in the source tree, trimmed; nullopt if git fails
// (no git, not a repository).
std::optional<std::string> git(const std::vector<std::string>& args,
                               const std::string& dir = VOLLEY_BENCH_SOURCE_DIR) {
  std::vector<std::string> argv = {"git", "-C", dir};
  argv.insert(argv.end(), args.begin(), args.end());
  try {
    auto r = run_child(argv, std::chrono::seconds(10));
    if (r.exit_code != 0) return std::nullopt;
    while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == ' ')) r.out.pop_back();
    return r.out;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::optional<bool> source_changed(const std::string& dir) {
  auto status = git(
      {"status", "--porcelain", "--untracked-files=no", "--", ":(top)", ":(top,exclude)results"},
      dir);
  if (!status) return std::nullopt;
  return !status->empty();
}

nlohmann::json describe_build() {
  std::string commit = git({"rev-parse", "HEAD"}).value_or(VOLLEY_BENCH_CONFIGURE_COMMIT);
  if (commit.empty()) commit = "unknown";
  // Local changes make the commit an approximation; say so (null: unknown).
  auto changed = source_changed(VOLLEY_BENCH_SOURCE_DIR);
  nlohmann::json dirty = changed ? nlohmann::json(*changed) : nlohmann::json(nullptr);
  return {
      {"compiler_id", VOLLEY_BENCH_COMPILER_ID},
      {"compiler_version", VOLLEY_BENCH_COMPILER_VERSION},
      {"build_type", VOLLEY_BENCH_BUILD_TYPE},
      {"flags", VOLLEY_BENCH_CXX_FLAGS},
      {"sanitizer", VOLLEY_BENCH_SANITIZE},
      {"git_commit", commit},
      {"git_dirty", dirty},
  };
}

}  // namespace volley::bench
