#include "caf_runtime.hpp"

#include <cstdint>

namespace volley::caf_peer {

caf_runtime::caf_runtime(int workers) {
  config_.set("scheduler.max-threads", static_cast<std::int64_t>(workers));
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
      {"scheduler.policy", caf::to_string(caf::defaults::scheduler::policy)},
      {"scheduler.max-throughput", caf::defaults::scheduler::max_throughput},
  };
}

}  // namespace volley::caf_peer
