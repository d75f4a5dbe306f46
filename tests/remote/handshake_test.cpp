#include <volley/remote/frame_codec.hpp>
#include <volley/remote/handshake.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

using namespace volley::remote;

namespace {

handshake_config config(std::string name, std::uint64_t incarnation, std::string secret) {
  handshake_config c;
  c.node_name = std::move(name);
  c.incarnation = incarnation;
  c.secret = std::move(secret);
  return c;
}

/// Delivers every frame in `bytes` to `to`, collecting its answers.
std::vector<std::byte> deliver(const std::vector<std::byte>& bytes, handshake& to) {
  std::vector<std::byte> answer;
  frame_decoder d;
  REQUIRE(d.feed(bytes, [&](const frame& f) { to.on_frame(f, answer); }) == decode_error::none);
  return answer;
}

/// Runs both sides until neither has anything to say.
void converse(handshake& initiator, handshake& acceptor) {
  std::vector<std::byte> to_acceptor;
  initiator.start(to_acceptor);
  for (int round = 0; round < 10 && !to_acceptor.empty(); ++round) {
    auto to_initiator = deliver(to_acceptor, acceptor);
    to_acceptor = deliver(to_initiator, initiator);
  }
}

frame_kind first_kind(const std::vector<std::byte>& bytes) {
  parse_result r = parse_frame(bytes);
  REQUIRE(r.error == decode_error::none);
  REQUIRE(r.consumed > 0);
  return r.value.kind;
}

reject_reason reject_code(const std::vector<std::byte>& bytes) {
  parse_result r = parse_frame(bytes);
  REQUIRE(r.value.kind == frame_kind::reject);
  return static_cast<reject_reason>(decode_reason_body(r.value.payload).code);
}

}  // namespace

TEST_CASE("the handshake proof is HMAC-SHA256 over nonce, name and incarnation",
          "[remote][handshake]") {
  // Known answer, also in PROTOCOL.md: key "volley-secret", nonce 00 01 .. 1f,
  // name "node-a", incarnation 0x0123456789abcdef (little-endian).
  nonce n;
  for (std::size_t i = 0; i < n.size(); ++i) n[i] = std::byte(i);
  mac_tag tag = handshake_proof("volley-secret", n, "node-a", 0x0123456789abcdefULL);
  const unsigned char expected[] = {0xa4, 0xdb, 0xfa, 0x76, 0x4f, 0x39, 0x20, 0xce,
                                    0xa9, 0x3c, 0x29, 0x11, 0xeb, 0xcd, 0x08, 0x82,
                                    0x80, 0xfd, 0x51, 0x04, 0x8e, 0xc9, 0xf3, 0x7b,
                                    0x58, 0xce, 0x88, 0xe6, 0x12, 0x98, 0xd8, 0x2e};
  CHECK(std::memcmp(tag.data(), expected, sizeof expected) == 0);
}

TEST_CASE("two nodes with the same secret complete the handshake", "[remote][handshake]") {
  handshake a(handshake::role::initiator, config("node-a", 11, "s3cret"));
  handshake b(handshake::role::acceptor, config("node-b", 22, "s3cret"));
  converse(a, b);
  REQUIRE(a.established());
  REQUIRE(b.established());
  CHECK(a.peer().name == "node-b");
  CHECK(a.peer().incarnation == 22);
  CHECK(b.peer().name == "node-a");
  CHECK(b.peer().incarnation == 11);
}

TEST_CASE("a wrong secret is rejected and the handshake fails on both sides",
          "[remote][handshake]") {
  handshake a(handshake::role::initiator, config("node-a", 11, "right"));
  handshake b(handshake::role::acceptor, config("node-b", 22, "wrong"));
  std::vector<std::byte> hello;
  a.start(hello);
  auto challenge = deliver(hello, b);
  CHECK(first_kind(challenge) == frame_kind::challenge);
  auto answer = deliver(challenge, a);
  // The initiator checks the acceptor's proof first and gives none of its own.
  CHECK(a.failed());
  CHECK_FALSE(a.rejected_by_peer());
  CHECK(reject_code(answer) == reject_reason::authentication_failed);
  CHECK(a.failure().find("secret") != std::string::npos);
  deliver(answer, b);
  CHECK(b.failed());
  CHECK(b.rejected_by_peer());
}

TEST_CASE("the acceptor rejects a response that does not prove the secret", "[remote][handshake]") {
  handshake b(handshake::role::acceptor, config("node-b", 22, "s3cret"));
  handshake a(handshake::role::initiator, config("node-a", 11, "s3cret"));
  std::vector<std::byte> hello;
  a.start(hello);
  deliver(hello, b);
  REQUIRE(b.current() == handshake::state::awaiting_response);
  mac_tag forged{};
  frame resp;
  resp.kind = frame_kind::response;
  resp.payload = forged;
  std::vector<std::byte> bytes, answer;
  encode_append(resp, bytes);
  answer = deliver(bytes, b);
  CHECK(b.failed());
  CHECK(reject_code(answer) == reject_reason::authentication_failed);
}

TEST_CASE("a different protocol version is rejected", "[remote][handshake]") {
  auto newer = config("node-a", 11, "s");
  newer.version = protocol_version + 1;
  handshake a(handshake::role::initiator, newer);
  handshake b(handshake::role::acceptor, config("node-b", 22, "s"));
  std::vector<std::byte> hello;
  a.start(hello);
  auto answer = deliver(hello, b);
  CHECK(b.failed());
  CHECK(reject_code(answer) == reject_reason::version_mismatch);
  CHECK(b.failure().find("version") != std::string::npos);
  deliver(answer, a);
  CHECK(a.failed());
  CHECK(a.rejected_by_peer());
}

TEST_CASE("no user frame is accepted before the handshake completes", "[remote][handshake]") {
  handshake b(handshake::role::acceptor, config("node-b", 22, "s"));
  frame msg;
  msg.kind = frame_kind::message;
  msg.target_path = "/user/x";
  std::vector<std::byte> bytes;
  encode_append(msg, bytes);
  auto answer = deliver(bytes, b);
  CHECK(b.failed());
  CHECK(reject_code(answer) == reject_reason::protocol_violation);
}

TEST_CASE("handshake bodies are checked", "[remote][handshake]") {
  handshake b(handshake::role::acceptor, config("node-b", 22, "s"));
  frame hello;
  hello.kind = frame_kind::hello;
  hello.sender_node = "node-a";
  std::vector<std::byte> body(48);
  SECTION("bad magic") {
    hello.payload = body;
    std::vector<std::byte> bytes;
    encode_append(hello, bytes);
    CHECK(reject_code(deliver(bytes, b)) == reject_reason::bad_magic);
  }
  SECTION("wrong size") {
    body.resize(47);
    detail::store_u32(body.data(), protocol_magic);
    detail::store_u16(body.data() + 4, protocol_version);
    hello.payload = body;
    std::vector<std::byte> bytes;
    encode_append(hello, bytes);
    CHECK(reject_code(deliver(bytes, b)) == reject_reason::malformed_body);
  }
  SECTION("our own name and incarnation") {
    detail::store_u32(body.data(), protocol_magic);
    detail::store_u16(body.data() + 4, protocol_version);
    detail::store_u64(body.data() + 8, 22);
    hello.sender_node = "node-b";
    hello.payload = body;
    std::vector<std::byte> bytes;
    encode_append(hello, bytes);
    CHECK(reject_code(deliver(bytes, b)) == reject_reason::self_connection);
  }
  CHECK(b.failed());
}

TEST_CASE("frames after a failure are ignored", "[remote][handshake]") {
  handshake b(handshake::role::acceptor, config("node-b", 22, "s"));
  frame hb;
  hb.kind = frame_kind::heartbeat;
  std::vector<std::byte> bytes;
  encode_append(hb, bytes);
  deliver(bytes, b);
  REQUIRE(b.failed());
  CHECK(deliver(bytes, b).empty());
  CHECK(b.failed());
}

TEST_CASE("incarnations and nonces are random", "[remote][handshake]") {
  CHECK(random_incarnation() != random_incarnation());
  CHECK(random_incarnation() != 0);
  CHECK(random_nonce() != random_nonce());
}
