// remote/src/inbound.cpp: what a node does with the tells it receives when
// they come as a stream. B's loop delivers a run of tells of one type to
// one allowed actor through a shortcut (node_core::tell_run: one path
// compare and one liveness check per frame instead of the access check and
// the path cache); these cases hold the shortcut to the plain path's
// answers where a run ends: the actor stops, a successor takes its name,
// frames to another allowed path come in between. (A path the access list
// refuses cannot be tested through a node: the proxy A makes for it is
// stopped by the refused watch before a stream could form.)
//
// Known-bad variants these cases caught when built into inbound.cpp (by
// hand, 2026-11-29): a run that does not check that its actor is alive
// (the successor got none of its messages: they went to the stopped
// actor), and a run that does not compare the target path (each actor got
// the other's runs).
#include "node_test_support.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace volley::remote;
using namespace volley::remote::test;

namespace {

/// Tells numbered{sender, first..first+count-1} to `to`.
void tell_run(volley::any_ref& to, std::uint32_t sender, std::uint64_t first, std::uint64_t count) {
  for (std::uint64_t i = first; i < first + count; ++i) to.tell(numbered{sender, i});
}

std::uint64_t numbered_seen(seen_state& s) {
  std::uint64_t n = 0;
  s.with_lock([&] { n = s.out_of_order ? ~std::uint64_t{0} : s.numbered_count; });
  return n;
}

}  // namespace

TEST_CASE("a run of tells ends with its actor: a successor at its path gets the next ones",
          "[remote][node][inbound]") {
  two_nodes t;
  volley::any_ref remote = t.to_b.select("/user/collector");
  constexpr std::uint64_t first = 2000, rest = 300;

  tell_run(remote, 0, 0, first);
  REQUIRE(poll_until([&] { return numbered_seen(t.seen) == first; }));

  t.collector.tell(volley::poison_pill{});
  REQUIRE(poll_until([&] { return t.collector.is_stopped(); }));
  // A's proxy stops once B reports the stop; a user then selects again.
  REQUIRE(poll_until([&] { return remote.is_stopped(); }));
  seen_state successor_seen;
  volley::actor_ref<collector_actor> successor;
  REQUIRE(poll_until([&] {
    try {
      successor =
          t.sys_b.spawn<collector_actor>(volley::props{.name = "collector"}, &successor_seen);
      return true;
    } catch (const std::exception&) {
      return false;  // the name is released a moment after the stop is seen
    }
  }));
  // Nothing else reached B's path cache since the first run: the run is
  // still formed, and must see that its actor stopped.
  remote = t.to_b.select("/user/collector");
  tell_run(remote, 1, 0, rest);
  REQUIRE(poll_until([&] { return numbered_seen(successor_seen) == rest; }));
  CHECK(numbered_seen(t.seen) == first);
}

TEST_CASE("runs of tells to two allowed actors, interleaved, each reach their own actor in order",
          "[remote][node][inbound]") {
  node_config b = node_config_for("node-b");
  b.access.allowed_paths.push_back("/user/xollector");
  configured_nodes t(node_config_for("node-a"), std::move(b));
  seen_state second_seen;
  auto second = t.sys_b.spawn<collector_actor>(volley::props{.name = "xollector"}, &second_seen);
  volley::any_ref to_first = t.to_b.select("/user/collector");
  volley::any_ref to_second = t.to_b.select("/user/xollector");

  // Both paths are 15 bytes, alike but for one byte of their first word.
  constexpr std::uint64_t rounds = 50, per_round = 10;
  for (std::uint64_t r = 0; r < rounds; ++r) {
    tell_run(to_first, 0, r * per_round, per_round);
    tell_run(to_second, 1, r * per_round, per_round);
  }
  REQUIRE(poll_until([&] { return numbered_seen(t.seen) >= rounds * per_round; }));
  REQUIRE(poll_until([&] { return numbered_seen(second_seen) >= rounds * per_round; }));
  CHECK(numbered_seen(t.seen) == rounds * per_round);
  CHECK(numbered_seen(second_seen) == rounds * per_round);
}

namespace {

/// Node B with its collector, and a raw peer that knows the secret and
/// builds frames of numbered tells in one buffer, to write them at once
/// (so that most of them lie inside one of B's receive buffers).
struct raw_stream_to_b {
  seen_state seen;
  volley::system sys_b{system_config()};
  volley::actor_ref<collector_actor> collector =
      sys_b.spawn<collector_actor>(volley::props{.name = "collector"}, &seen);
  node node_b{sys_b, node_config_for("node-b"), test_types()};
  raw_peer peer{node_b.port()};
  std::vector<std::byte> bytes;

  raw_stream_to_b() {
    if (!peer.handshake_as("mallory", "test-secret"))
      throw std::runtime_error("raw peer: handshake failed");
  }
  /// Appends a tell of numbered{sender, n} to `path`, from `sender_path`
  /// on `sender_node` (empty: none, the peer).
  void append(const char* path, std::uint32_t sender, std::uint64_t n, const char* sender_node = "",
              const char* sender_path = "") {
    numbered m{};  // padding zeroed: the payload is the struct's bytes
    m.sender = sender;
    m.n = n;
    frame f;
    f.kind = frame_kind::message;
    f.target_path = path;
    f.sender_node = sender_node;
    f.sender_path = sender_path;
    f.type_marker = 1;  // numbered (test_types)
    f.payload = std::as_bytes(std::span(&m, 1));
    encode_append(f, bytes);
  }
  /// `rounds` times `a` tells made by first(n), then `b` made by second(n)
  /// (n counts each kind's tells from 0), written in one write.
  template <class First, class Second>
  void write_rounds(std::uint64_t rounds, std::uint64_t a, First first, std::uint64_t b,
                    Second second) {
    std::uint64_t next_first = 0, next_second = 0;
    for (std::uint64_t r = 0; r < rounds; ++r) {
      for (std::uint64_t i = 0; i < a; ++i) first(next_first++);
      for (std::uint64_t i = 0; i < b; ++i) second(next_second++);
    }
    peer.write_all(bytes);
  }
};

}  // namespace

TEST_CASE("a frame like a refused one before it is refused too, not taken by the run",
          "[remote][node][inbound]") {
  // Inside one receive buffer, a frame whose target bytes equal those of the
  // frame before it skips the run's path compare, on the strength of that
  // frame having gone through the run (tell_run::streak). A peer that knows
  // the secret writes runs to the allowed collector, each followed by frames
  // to a path the access list refuses: the first of those is refused, and
  // the ones like it must be refused as well, not delivered to the
  // collector because the frame before them was like them.
  raw_stream_to_b t;
  constexpr std::uint64_t rounds = 40, to_run = 4, refused = 3;
  t.write_rounds(
      rounds, to_run, [&](std::uint64_t n) { t.append("/user/collector", 0, n); }, refused,
      [&](std::uint64_t n) { t.append("/user/elsewhere", 1, n); });

  // Every frame ends in one of the two counts; then each count is exact.
  REQUIRE(poll_until([&] {
    std::uint64_t delivered = 0;
    t.seen.with_lock([&] { delivered = t.seen.numbered_count; });
    return delivered + t.node_b.stats().refused_messages >= rounds * (to_run + refused);
  }));
  CHECK(t.node_b.stats().refused_messages == rounds * refused);
  t.seen.with_lock([&] {
    CHECK(t.seen.numbered_count == rounds * to_run);
    CHECK_FALSE(t.seen.out_of_order);
  });
}

TEST_CASE("a frame like one whose sender was refused gets no sender, not the run's last one",
          "[remote][node][inbound]") {
  // A frame whose sender bytes equal those of the frame before it reuses
  // the sender that frame was found to have (node_core::sender_streak_). A
  // sender on a third node cannot be reached over this connection: such a
  // frame is delivered without a sender. The frames like it must be too,
  // not given the proxy of the sender before them.
  raw_stream_to_b t;
  constexpr std::uint64_t rounds = 40, with_sender = 4, third_node = 3;
  t.write_rounds(
      rounds, with_sender,
      [&](std::uint64_t n) { t.append("/user/collector", 0, n, "", "/user/s1"); }, third_node,
      [&](std::uint64_t n) { t.append("/user/collector", 1, n, "node-c", "/user/s3"); });

  REQUIRE(
      t.seen.wait([&] { return t.seen.numbered_count >= rounds * (with_sender + third_node); }));
  t.seen.with_lock([&] {
    CHECK(t.seen.numbered_count == rounds * (with_sender + third_node));
    CHECK_FALSE(t.seen.out_of_order);
    CHECK(t.seen.senders_seen_for_1 == 0);  // sender 1's frames name a third node's actor
  });
}
