// transport_settings::direct_writes (remote/src/transport_direct.cpp): a
// thread that sends an ask, or the reply to one, writes the frame to the
// socket itself when the connection has nothing queued or in flight. What
// must hold: the ask then wakes no loop on the asking side; and with many
// threads telling and asking over one connection at once, each sender's
// messages arrive in its order, and every frame is counted exactly once.
// The first case checks itself against direct_writes off (every ask wakes
// the sleeping loop); the stress case was run against a known-bad build
// (the sender not checking that nothing is queued) and failed it in every
// round: an ask overtook its thread's staged tells. A build whose loop does
// not take the write side back before a sendmsg passed it: a TCP send takes
// the socket's lock for the whole call, so whole small writes do not
// interleave, and the queue check keeps senders out while user frames are
// queued; what that claim guards (a short write of control frames, a
// socket closed under a sender) is argued in transport_direct.cpp.
#include "node_test_support.hpp"
#include "test_certificates.hpp"

#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

using namespace volley::remote;
using namespace volley::remote::test;
using volley::remote::testing::issued;
using volley::remote::testing::test_pki;

namespace {

/// Certificates for node-a and node-b, one CA, made at test time.
struct cluster_pki {
  test_pki pki;
  issued ca = pki.make_ca("cluster-ca");
  issued cert_a = pki.make_node(ca, "node-a");
  issued cert_b = pki.make_node(ca, "node-b");
};

/// node_config_for with direct writes on or off, no reply spin (so that a
/// sleeping loop is woken by each frame handed to it, and the count of
/// wake-ups shows who wrote), and TLS when `pki` is given.
node_config config_for(const char* name, bool direct, const cluster_pki* pki) {
  node_config c = node_config_for(name);
  c.transport.direct_writes = direct;
  c.transport.reply_spin = std::chrono::microseconds(0);
  if (pki != nullptr)
    c.transport.tls =
        test_pki::config(std::string(name) == "node-a" ? pki->cert_a : pki->cert_b, pki->ca);
  return c;
}

struct paced_result {
  std::uint64_t direct_a = 0, direct_b = 0, wakeups_a = 0;
};

/// `n` asks from this thread, 1 ms apart so that A's loop sleeps before each.
paced_result ask_paced(bool direct, int n) {
  configured_nodes t(config_for("node-a", direct, nullptr), config_for("node-b", direct, nullptr));
  volley::any_ref remote = t.to_b.select("/user/collector");
  REQUIRE(remote.ask<pong>(ping{0}).get(patience));  // the connection and its proxy are warm
  auto before_a = t.node_a.stats().transport;
  auto before_b = t.node_b->stats().transport;
  for (int i = 1; i <= n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    auto r = remote.ask<pong>(ping{i}).get(patience);
    REQUIRE(r);
    CHECK(r.value().n == i + 1);
  }
  auto after_a = t.node_a.stats().transport;
  auto after_b = t.node_b->stats().transport;
  return {after_a.direct_writes - before_a.direct_writes,
          after_b.direct_writes - before_b.direct_writes, after_a.wakeups - before_a.wakeups};
}

/// `threads` plain threads, each `rounds` times: three numbered tells and
/// a numbered ask (ask<unit>), one sequence per thread, all to B's
/// collector, which flags any message out of its sender's order. Returns
/// the collector's tally (0 if anything came out of order).
struct stress_result {
  std::uint64_t tally = 0;
  std::uint64_t expected = 0;
  transport_stats a;
};
stress_result tell_and_ask(const cluster_pki* pki, int threads, int rounds) {
  configured_nodes t(config_for("node-a", true, pki), config_for("node-b", true, pki));
  volley::any_ref remote = t.to_b.select("/user/collector");
  REQUIRE(remote.ask<pong>(ping{0}).get(patience));
  std::vector<std::thread> senders;
  std::atomic<int> failed_asks{0};
  for (int s = 0; s < threads; ++s) {
    senders.emplace_back([&, s] {
      auto sender = static_cast<std::uint32_t>(s);
      std::uint64_t n = 0;
      for (int r = 0; r < rounds; ++r) {
        for (int k = 0; k < 3; ++k) remote.tell(numbered{sender, n++});
        if (!remote.ask<volley::unit>(numbered{sender, n++}).get(patience)) ++failed_asks;
      }
    });
  }
  for (auto& th : senders) th.join();
  CHECK(failed_asks.load() == 0);
  stress_result out;
  out.expected = static_cast<std::uint64_t>(threads) * static_cast<std::uint64_t>(rounds) * 4;
  // A tally ask goes behind every sender's last frame: all have been handled.
  auto counted = remote.ask<std::uint64_t>(tally{}).get(patience);
  REQUIRE(counted);
  out.tally = counted.value();
  // The counters are published at the end of a loop turn: wait until every
  // frame queued is accounted for.
  poll_until([&] {
    auto s = t.node_a.stats().transport;
    return s.frames_queued == s.frames_sent + s.frames_undelivered + s.frames_fate_unknown;
  });
  out.a = t.node_a.stats().transport;
  return out;
}

}  // namespace

TEST_CASE("an ask and its reply are written by their own threads: the asker wakes no loop",
          "[remote][direct]") {
  constexpr int n = 40;
  paced_result on = ask_paced(true, n);
  // Each ask and each worker's reply found its connection idle (the last
  // heartbeat may hold one of them: a few fall back to the loop).
  CHECK(on.direct_a >= n - 4);
  CHECK(on.direct_b >= n - 4);
  CHECK(on.wakeups_a <= 4);
  paced_result off = ask_paced(false, n);
  CHECK(off.direct_a == 0);
  CHECK(off.direct_b == 0);
  CHECK(off.wakeups_a >= n - 4);  // what the first case must not do: each ask woke A's loop
}

TEST_CASE("threads telling and asking over one connection: order per sender, every frame counted",
          "[remote][direct]") {
  for (int round = 0; round < 3; ++round) {
    stress_result r = tell_and_ask(nullptr, 4, 150);
    CHECK(r.tally == r.expected);  // 0: a message overtook one its sender sent before it
    CHECK(r.a.frames_undelivered == 0);
    CHECK(r.a.frames_fate_unknown == 0);
    CHECK(r.a.frames_queued == r.a.frames_sent);
    CHECK(r.a.direct_writes > 0);  // the path under test was taken
  }
}

TEST_CASE("with TLS every frame goes through the loop, in order", "[remote][direct][tls]") {
  cluster_pki pki;
  stress_result r = tell_and_ask(&pki, 4, 60);
  CHECK(r.tally == r.expected);
  CHECK(r.a.frames_queued == r.a.frames_sent);
  CHECK(r.a.direct_writes == 0);  // a sender cannot write TLS records
}
