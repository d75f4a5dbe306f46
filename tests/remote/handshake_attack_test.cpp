// The attacks of PROTOCOL.md §6.1.1 tried against real transports on
// 127.0.0.1: issue 8's relay between two nodes that share a secret, a
// reflection back to the same node, a wrong secret (and which side's log says
// what), and a reconnect answered by another node.
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

using namespace volley::remote;
using namespace volley::remote::test;

namespace {

std::vector<std::byte> intro_body(std::uint64_t incarnation, const nonce& n) {
  std::vector<std::byte> body(48);
  detail::store_u32(body.data(), protocol_magic);
  detail::store_u16(body.data() + 4, protocol_version);
  detail::store_u64(body.data() + 8, incarnation);
  std::memcpy(body.data() + 16, n.data(), n.size());
  return body;
}

void send_hello(raw_peer& p, const std::string& name, std::uint64_t incarnation, const nonce& n) {
  auto body = intro_body(incarnation, n);
  frame f;
  f.kind = frame_kind::hello;
  f.sender_node = name;
  f.payload = body;
  p.send_frame(f);
}

reject_reason reject_of(const raw_peer::received& r) {
  REQUIRE(r.kind == frame_kind::reject);
  return static_cast<reject_reason>(decode_reason_body(r.payload).code);
}

}  // namespace

TEST_CASE("issue 8's relay between two nodes that share a secret is refused",
          "[remote][handshake][attack]") {
  recording_handler at_a, at_b;
  transport a(test_config("node-a"), at_a);
  transport b(test_config("node-b"), at_b);

  // 1. hello to B: B's name and incarnation, and no proof.
  raw_peer to_b(b.port());
  send_hello(to_b, "mallory", 1, random_nonce());
  raw_peer::received b_challenge;
  REQUIRE(to_b.next_frame(b_challenge));
  REQUIRE(b_challenge.kind == frame_kind::challenge);
  CHECK(b_challenge.sender_node == "node-b");
  CHECK(b_challenge.payload.size() == 48);
  std::uint64_t inc_b = detail::load_u64(b_challenge.payload.data() + 8);
  CHECK(inc_b == b.incarnation());

  // 2. hello to A claiming to be B: A's nonce.
  raw_peer to_a(a.port());
  send_hello(to_a, "node-b", inc_b, random_nonce());
  raw_peer::received a_challenge;
  REQUIRE(to_a.next_frame(a_challenge));
  REQUIRE(a_challenge.kind == frame_kind::challenge);
  nonce na;
  std::memcpy(na.data(), a_challenge.payload.data() + 16, na.size());

  // 3. hello to B with A's nonce: still no proof from B.
  raw_peer to_b2(b.port());
  send_hello(to_b2, "node-a", a.incarnation(), na);
  raw_peer::received b_again;
  REQUIRE(to_b2.next_frame(b_again));
  REQUIRE(b_again.kind == frame_kind::challenge);
  CHECK(b_again.payload.size() == 48);

  // 4. Whatever the attacker hands A as its proof is refused.
  frame resp;
  resp.kind = frame_kind::response;
  resp.payload = std::span(b_again.payload).subspan(16, 32);
  to_a.send_frame(resp);
  raw_peer::received answer;
  REQUIRE(to_a.next_frame(answer));
  CHECK(reject_of(answer) == reject_reason::authentication_failed);
  CHECK(to_a.read_until_eof().empty());  // and A hangs up
  CHECK(poll_until([&] { return a.stats().closes_for(close_reason::handshake_failed) == 1; }));
  at_a.with_lock([&] { CHECK(at_a.ups.empty()); });
  at_b.with_lock([&] { CHECK(at_b.ups.empty()); });
}

TEST_CASE("a reflection of a node's own hello back to it is refused",
          "[remote][handshake][attack]") {
  recording_handler at_a;
  transport a(test_config("node-a"), at_a);
  raw_peer p(a.port());
  send_hello(p, "node-a", a.incarnation(), random_nonce());
  raw_peer::received answer;
  REQUIRE(p.next_frame(answer));
  CHECK(reject_of(answer) == reject_reason::self_connection);
  at_a.with_lock([&] { CHECK(at_a.ups.empty()); });
}

TEST_CASE("a wrong secret is refused; the refusing side logs that it rejected the peer's proof",
          "[remote][handshake]") {
  log_lines log_a, log_c;
  recording_handler at_a, at_c;
  auto cfg_a = test_config("node-a");
  cfg_a.log = log_a.sink();
  auto cfg_c = test_config("node-c", "not-the-secret");
  cfg_c.log = log_c.sink();
  transport a(cfg_a, at_a);
  transport c(cfg_c, at_c);
  c.connect("127.0.0.1", a.port());
  REQUIRE(poll_until([&] { return a.stats().closes_for(close_reason::handshake_failed) >= 1; }));
  REQUIRE(poll_until([&] { return c.stats().closes_for(close_reason::rejected_by_peer) >= 1; }));
  // The close is counted just before it is logged: wait for the lines.
  CHECK(poll_until(
      [&] { return log_a.has("this node (node-a) rejected the proof of initiator 'node-c'"); }));
  CHECK(poll_until([&] { return log_c.has("rejected by peer 'node-a'"); }));
  CHECK_FALSE(log_c.has("this node (node-c) rejected"));
  at_a.with_lock([&] { CHECK(at_a.ups.empty()); });
  at_c.with_lock([&] { CHECK(at_c.ups.empty()); });
}

TEST_CASE("a reconnect answered by another node is refused before it proves anything",
          "[remote][handshake]") {
  log_lines log_a;
  recording_handler at_a, at_b, at_c;
  auto cfg_a = test_config("node-a");
  cfg_a.log = log_a.sink();
  transport a(cfg_a, at_a);
  auto b = std::make_unique<transport>(test_config("node-b"), at_b);
  std::uint16_t port = b->port();
  a.connect("127.0.0.1", port);
  REQUIRE(at_a.wait([&] { return at_a.ups.size() == 1; }));
  b.reset();
  REQUIRE(at_a.wait([&] { return at_a.downs.size() == 1; }));
  // Another node takes the port: A's reconnects reach it and refuse it.
  auto cfg_c = test_config("node-c");
  cfg_c.listen_port = port;
  transport c(cfg_c, at_c);
  REQUIRE(poll_until([&] { return log_a.has("expected node 'node-b' but 'node-c' answered"); }));
  CHECK(poll_until([&] { return c.stats().closes_for(close_reason::rejected_by_peer) >= 1; }));
  at_a.with_lock([&] { CHECK(at_a.ups.size() == 1); });
  at_c.with_lock([&] { CHECK(at_c.ups.empty()); });
}
