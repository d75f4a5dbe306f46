#pragma once
/// CAF 0.17 side of the Savina comparison: the actor system setup and the
/// message atoms the workloads share.
///
/// Every workload builds a `caf_runtime` with the same worker count volley
/// gets, so a ratio compares schedulers with equal threads. CAF's other
/// settings stay at their defaults (work-stealing policy, unlimited
/// throughput per resume): that is how CAF ships, and how the reference
/// figures in bench/savina/README.md were measured. The environment
/// variable CAF_SAVINA_SCHEDULER_POLICY=sharing picks CAF's other scheduler,
/// to reproduce bench/peers/caf/README.md; the suite never sets it.

#include <caf/all.hpp>

#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

namespace volley::caf_peer {

// CAF 0.17 atoms: at most 10 characters each.
using start_atom = caf::atom_constant<caf::atom("start")>;
using init_atom = caf::atom_constant<caf::atom("init")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using pong_atom = caf::atom_constant<caf::atom("pong")>;
using work_atom = caf::atom_constant<caf::atom("work")>;
using result_atom = caf::atom_constant<caf::atom("result")>;
using increment_atom = caf::atom_constant<caf::atom("increment")>;
using total_atom = caf::atom_constant<caf::atom("total")>;
using token_atom = caf::atom_constant<caf::atom("token")>;
using ack_atom = caf::atom_constant<caf::atom("ack")>;
using data_atom = caf::atom_constant<caf::atom("data")>;

/// An actor system with `workers` scheduler threads.
class caf_runtime {
 public:
  explicit caf_runtime(int workers);
  caf::actor_system& system() { return *system_; }

 private:
  caf::actor_system_config config_;  // must outlive system_
  std::unique_ptr<caf::actor_system> system_;
};

/// Stops `actors` (user_shutdown) so that the system's destructor, which
/// waits for every actor, returns.
void stop_all(const std::vector<caf::actor>& actors);

/// CAF's configuration for `workers` threads, recorded in each JSON line.
nlohmann::json describe_config(int workers);

/// A list of actors shared by reference in a message (local only).
using actor_list = std::shared_ptr<const std::vector<caf::actor>>;

}  // namespace volley::caf_peer

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volley::caf_peer::actor_list)
