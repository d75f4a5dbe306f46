// The node settings partition_test and its peer (partition_peer.cpp) share:
// node B's heartbeat interval drives node A's failure detector, so both
// sides must agree.
#pragma once

#include "node_test_support.hpp"

#include <chrono>
#include <string>

namespace volley::remote::test {

/// Short settings so that a cut link is noticed in about a second:
/// heartbeats every 100 ms, and with phi's threshold of 8 (z ~ 5.6) a peer
/// silent for roughly 100 + 500 + 5.6 x 50 ms ~ 0.9 s is declared down. Half
/// a second of tolerated pause keeps a loaded sanitizer build from false
/// alarms (its loop threads stall for tens of ms, not hundreds).
inline node_config partition_node_config(std::string name) {
  node_config c = node_config_for(std::move(name));
  c.transport.heartbeat_interval = std::chrono::milliseconds(100);
  c.transport.phi.acceptable_pause = std::chrono::milliseconds(500);
  c.transport.phi.min_std_deviation = std::chrono::milliseconds(50);
  return c;
}

/// How soon after the cut the pending asks must have failed. Four times the
/// ~0.9 s expected above leaves room for a loaded machine, and it is shorter
/// than detection with the default settings (3 s pause + 1 s interval + a
/// few deviations, ~4.5 s): a node that ignored its configuration fails.
inline constexpr std::chrono::milliseconds partition_detection_bound{4000};

}  // namespace volley::remote::test
