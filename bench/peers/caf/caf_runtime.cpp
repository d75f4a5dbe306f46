#include "caf_runtime.hpp"

#include "caf_savina_build.hpp"  // generated: bench/peers/caf/CMakeLists.txt

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace volley::caf_peer {

namespace {

// CAF's default (work stealing) unless CAF_SAVINA_SCHEDULER_POLICY names
// the other policy CAF ships; the suite runs the default, the variable is
// there to reproduce bench/peers/caf/README.md's sleeping-barber figures.
std::string scheduler_policy() {
  const char* chosen = std::getenv("CAF_SAVINA_SCHEDULER_POLICY");
  if (chosen == nullptr || *chosen == '\0') return caf::to_string(caf::defaults::scheduler::policy);
  const std::string policy = chosen;
  if (policy != "stealing" && policy != "sharing")
    throw std::invalid_argument("CAF_SAVINA_SCHEDULER_POLICY must be stealing or sharing, not " +
                                policy);
  return policy;
}

}  // namespace

caf_runtime::caf_runtime(int workers) {
  config_.set("scheduler.max-threads", static_cast<std::int64_t>(workers));
  config_.set("scheduler.policy", caf::atom_from_string(scheduler_policy()));
  system_ = std::make_unique<caf::actor_system>(config_);
}

void stop_all(const std::vector<caf::actor>& actors) {
  for (const auto& a : actors) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

nlohmann::json describe_config(int workers) {
  return {
      {"caf_version", std::to_string(CAF_MAJOR_VERSION) + "." + std::to_string(CAF_MINOR_VERSION) +
                          "." + std::to_string(CAF_PATCH_VERSION)},
      {"scheduler.max-threads", workers},
      {"scheduler.policy", scheduler_policy()},
      {"scheduler.max-throughput", caf::defaults::scheduler::max_throughput},
      // As volley's and Erlang's configs word it: each workload constructs
      // the actor system (caf_runtime), then starts its stopwatch.
      {"warm_up", "none: one run per process start, timed after the actor system exists"},
      // How this binary and the CAF it links were built (issue 9: each
      // peer's version and flags in the result file).
      {"build", {{"compiler", build::compiler}, {"flags", build::flags}}},
      {"libcaf", {{"package", build::libcaf_package}, {"library", build::libcaf_library}}},
  };
}

}  // namespace volley::caf_peer
