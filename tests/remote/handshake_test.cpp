// The handshake state machine (handshake.hpp) without sockets: the proofs'
// known answers, the order in which proofs are revealed, and the attacks
// PROTOCOL.md §6.1.1 argues against (relay, reflection, replay, role swap).
#include <volley/remote/frame_codec.hpp>
#include <volley/remote/handshake.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
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

/// One decoded frame, owned.
struct owned_frame {
  frame_kind kind{};
  std::string sender_node;
  std::vector<std::byte> payload;
};

owned_frame only_frame(const std::vector<std::byte>& bytes) {
  parse_result r = parse_frame(bytes);
  REQUIRE(r.error == decode_error::none);
  REQUIRE(r.consumed == bytes.size());
  return {r.value.kind,
          std::string(r.value.sender_node),
          {r.value.payload.begin(), r.value.payload.end()}};
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

/// An introduction (hello or challenge) with fields of the attacker's choice.
std::vector<std::byte> intro_frame(frame_kind kind, const std::string& name,
                                   std::uint64_t incarnation, const nonce& n) {
  std::vector<std::byte> body(48);
  detail::store_u32(body.data(), protocol_magic);
  detail::store_u16(body.data() + 4, protocol_version);
  detail::store_u64(body.data() + 8, incarnation);
  std::memcpy(body.data() + 16, n.data(), n.size());
  frame f;
  f.kind = kind;
  f.sender_node = name;
  f.payload = body;
  std::vector<std::byte> out;
  encode_append(f, out);
  return out;
}

nonce nonce_of(const owned_frame& intro) {
  nonce n;
  REQUIRE(intro.payload.size() == 48);
  std::memcpy(n.data(), intro.payload.data() + 16, n.size());
  return n;
}

std::uint64_t incarnation_of(const owned_frame& intro) {
  return detail::load_u64(intro.payload.data() + 8);
}

nonce counting_nonce(int from) {
  nonce n;
  for (std::size_t i = 0; i < n.size(); ++i) n[i] = std::byte(from + static_cast<int>(i));
  return n;
}

handshake_transcript known_transcript() {
  handshake_transcript t;
  t.version = 3;
  t.initiator_name = "node-a";
  t.initiator_incarnation = 0x0123456789abcdefULL;
  t.initiator_nonce = counting_nonce(0);
  t.acceptor_name = "node-b";
  t.acceptor_incarnation = 0xfedcba9876543210ULL;
  t.acceptor_nonce = counting_nonce(32);
  return t;
}

bool tag_is(const mac_tag& tag, const unsigned char (&expected)[32]) {
  return std::memcmp(tag.data(), expected, sizeof expected) == 0;
}

}  // namespace

TEST_CASE("each proof is HMAC-SHA256 over its role's label and the whole transcript",
          "[remote][handshake]") {
  // Known answers, also in PROTOCOL.md §6.1 (and recomputed by make_corpus.py).
  handshake_transcript t = known_transcript();
  const unsigned char initiator[] = {0x59, 0x8c, 0xa7, 0x68, 0x3b, 0xfb, 0x26, 0xe2,
                                     0x9d, 0xb0, 0x6e, 0xfb, 0xa3, 0xde, 0xb0, 0x29,
                                     0x32, 0x31, 0x34, 0xda, 0x70, 0xc6, 0xb4, 0x61,
                                     0xba, 0x02, 0x1d, 0x51, 0x70, 0x68, 0xde, 0xdf};
  const unsigned char acceptor[] = {0x03, 0x3c, 0x1f, 0xb4, 0x45, 0x64, 0x47, 0x76,
                                    0x9d, 0x0b, 0x12, 0xe5, 0x2b, 0x08, 0x40, 0x7a,
                                    0x5a, 0x15, 0xcc, 0xea, 0x10, 0x5f, 0xa2, 0x12,
                                    0x2a, 0x4d, 0x98, 0x97, 0xcc, 0x51, 0x33, 0xe2};
  CHECK(tag_is(handshake_proof("volley-secret", proof_role::initiator, t), initiator));
  CHECK(tag_is(handshake_proof("volley-secret", proof_role::acceptor, t), acceptor));
  CHECK(proof_message(proof_role::initiator, t).size() == 132);

  // Every field counts: changing any one changes the proof.
  mac_tag base = handshake_proof("volley-secret", proof_role::initiator, t);
  auto differs = [&](handshake_transcript u) {
    return handshake_proof("volley-secret", proof_role::initiator, u) != base;
  };
  auto u = t;
  u.version = 1;
  CHECK(differs(u));
  u = t;
  u.initiator_name = "node-c";
  CHECK(differs(u));
  u = t;
  u.acceptor_name = "node-c";
  CHECK(differs(u));
  u = t;
  u.initiator_incarnation ^= 1;
  CHECK(differs(u));
  u = t;
  u.acceptor_incarnation ^= 1;
  CHECK(differs(u));
  u = t;
  u.initiator_nonce[31] ^= std::byte{1};
  CHECK(differs(u));
  u = t;
  u.acceptor_nonce[0] ^= std::byte{1};
  CHECK(differs(u));
  // Length prefixes: moving a byte from one name to the next is another message.
  u = t;
  u.initiator_name = "node-an";
  u.acceptor_name = "ode-b";
  auto v = t;
  v.initiator_name = "node-a";
  v.acceptor_name = "node-b";
  CHECK(proof_message(proof_role::initiator, u) != proof_message(proof_role::initiator, v));
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
  // Both ended with the same view of the exchange.
  auto ta = a.transcript(), tb = b.transcript();
  CHECK(ta.initiator_nonce == tb.initiator_nonce);
  CHECK(ta.acceptor_nonce == tb.acceptor_nonce);
  CHECK(proof_message(proof_role::acceptor, ta) == proof_message(proof_role::acceptor, tb));
}

TEST_CASE("the acceptor proves nothing before the initiator has proved the secret",
          "[remote][handshake]") {
  // Two acceptors with different secrets and the same nonce send the same
  // challenge, byte for byte: it carries nothing that depends on the secret.
  nonce na = counting_nonce(7);
  handshake right(handshake::role::acceptor, config("node-b", 22, "right"), na);
  handshake wrong(handshake::role::acceptor, config("node-b", 22, "wrong"), na);
  auto hello = intro_frame(frame_kind::hello, "node-x", 5, counting_nonce(1));
  auto c1 = deliver(hello, right), c2 = deliver(hello, wrong);
  CHECK(c1 == c2);
  owned_frame challenge = only_frame(c1);
  CHECK(challenge.kind == frame_kind::challenge);
  CHECK(challenge.payload.size() == 48);  // introduction only: no proof
  // A wrong response gets a reject, never the acceptor's proof.
  frame resp;
  resp.kind = frame_kind::response;
  mac_tag guess{};
  resp.payload = guess;
  std::vector<std::byte> bytes;
  encode_append(resp, bytes);
  auto answer = deliver(bytes, right);
  CHECK(reject_code(answer) == reject_reason::authentication_failed);
  CHECK(right.failed());
}

TEST_CASE("a wrong secret is refused, and the log says this side rejected the peer's proof",
          "[remote][handshake]") {
  handshake a(handshake::role::initiator, config("node-a", 11, "right"));
  handshake b(handshake::role::acceptor, config("node-b", 22, "wrong"));
  std::vector<std::byte> hello;
  a.start(hello);
  auto challenge = deliver(hello, b);
  CHECK(first_kind(challenge) == frame_kind::challenge);
  auto response = deliver(challenge, a);
  CHECK(first_kind(response) == frame_kind::response);
  auto answer = deliver(response, b);
  // The acceptor checks first; its log names itself as the one that refused.
  CHECK(b.failed());
  CHECK_FALSE(b.rejected_by_peer());
  CHECK(reject_code(answer) == reject_reason::authentication_failed);
  CHECK(b.failure().find("this node (node-b) rejected the proof of initiator 'node-a'") !=
        std::string::npos);
  CHECK(b.failure().find("do not share the secret") != std::string::npos);
  // The initiator learns it from the reject and says so, not "we failed".
  deliver(answer, a);
  CHECK(a.failed());
  CHECK(a.rejected_by_peer());
  CHECK(a.failure_code() == static_cast<std::uint16_t>(reject_reason::authentication_failed));
  CHECK(a.failure().find("rejected by peer 'node-b'") != std::string::npos);
}

TEST_CASE("the initiator refuses an accept that does not carry the acceptor's proof",
          "[remote][handshake]") {
  handshake a(handshake::role::initiator, config("node-a", 11, "s3cret"));
  std::vector<std::byte> hello;
  a.start(hello);
  auto challenge = intro_frame(frame_kind::challenge, "node-b", 22, counting_nonce(3));
  auto response = deliver(challenge, a);
  REQUIRE(first_kind(response) == frame_kind::response);
  SECTION("an empty accept (version 1's)") {
    frame acc;
    acc.kind = frame_kind::accept;
    std::vector<std::byte> bytes;
    encode_append(acc, bytes);
    CHECK(reject_code(deliver(bytes, a)) == reject_reason::malformed_body);
  }
  SECTION("the initiator's own proof sent back as the acceptor's") {
    owned_frame r = only_frame(response);
    frame acc;
    acc.kind = frame_kind::accept;
    acc.payload = r.payload;
    std::vector<std::byte> bytes;
    encode_append(acc, bytes);
    CHECK(reject_code(deliver(bytes, a)) == reject_reason::authentication_failed);
    CHECK(a.failure().find("this node (node-a) rejected the proof of acceptor 'node-b'") !=
          std::string::npos);
  }
  CHECK(a.failed());
  CHECK_FALSE(a.established());
}

TEST_CASE("the relay from issue 8 between two nodes that share a secret is refused",
          "[remote][handshake][attack]") {
  // A and B share the secret; the attacker does not. Version 1 fell to this:
  // the attacker made B prove over A's nonce and handed the proof to A.
  handshake a(handshake::role::acceptor, config("node-a", 100, "shared"));
  handshake b1(handshake::role::acceptor, config("node-b", 200, "shared"));
  handshake b2(handshake::role::acceptor, config("node-b", 200, "shared"));
  // 1. hello to B: learn B's name and incarnation.
  owned_frame b_intro =
      only_frame(deliver(intro_frame(frame_kind::hello, "mallory", 1, counting_nonce(0)), b1));
  REQUIRE(b_intro.kind == frame_kind::challenge);
  // 2. hello to A claiming to be B: read A's nonce.
  owned_frame a_intro = only_frame(deliver(
      intro_frame(frame_kind::hello, "node-b", incarnation_of(b_intro), counting_nonce(9)), a));
  REQUIRE(a_intro.kind == frame_kind::challenge);
  // 3. hello to B with A's nonce: B answers with a challenge and no proof.
  owned_frame b_again = only_frame(deliver(
      intro_frame(frame_kind::hello, "node-a", incarnation_of(a_intro), nonce_of(a_intro)), b2));
  REQUIRE(b_again.kind == frame_kind::challenge);
  CHECK(b_again.payload.size() == 48);
  // 4. Nothing the attacker holds is a proof. Whatever it hands A as the
  //    response (here every 32-byte window of B's challenges) is refused.
  auto refused = [&](std::span<const std::byte> candidate) {
    handshake fresh(handshake::role::acceptor, config("node-a", 100, "shared"));
    deliver(intro_frame(frame_kind::hello, "node-b", incarnation_of(b_intro), counting_nonce(9)),
            fresh);
    frame resp;
    resp.kind = frame_kind::response;
    resp.payload = candidate;
    std::vector<std::byte> bytes;
    encode_append(resp, bytes);
    return reject_code(deliver(bytes, fresh)) == reject_reason::authentication_failed &&
           !fresh.established();
  };
  for (const auto* intro : {&b_intro, &b_again}) {
    for (std::size_t at = 0; at + 32 <= intro->payload.size(); at += 8)
      CHECK(refused(std::span(intro->payload).subspan(at, 32)));
  }
  frame resp;
  resp.kind = frame_kind::response;
  resp.payload = std::span(b_again.payload).subspan(16, 32);
  std::vector<std::byte> bytes;
  encode_append(resp, bytes);
  CHECK(reject_code(deliver(bytes, a)) == reject_reason::authentication_failed);
  CHECK(a.failed());
}

TEST_CASE("a relay of an honest initiator's proof to a second acceptor is refused",
          "[remote][handshake][attack]") {
  // The attacker gets an initiator proof the only way it can: A dials it. It
  // forwards B's challenge to A, so A proves for the session (A, B, Ni, Nb),
  // and replays that proof to another session of B (fresh nonce) and to C.
  handshake a(handshake::role::initiator, config("node-a", 100, "shared"));
  handshake b(handshake::role::acceptor, config("node-b", 200, "shared"));
  handshake b_other(handshake::role::acceptor, config("node-b", 200, "shared"));
  handshake c(handshake::role::acceptor, config("node-c", 300, "shared"));
  std::vector<std::byte> hello;
  a.start(hello);
  auto challenge_b = deliver(hello, b);
  deliver(hello, b_other);
  deliver(hello, c);
  auto response = deliver(challenge_b, a);
  REQUIRE(first_kind(response) == frame_kind::response);
  // Replayed elsewhere: refused (another acceptor nonce, another acceptor name).
  CHECK(reject_code(deliver(response, b_other)) == reject_reason::authentication_failed);
  CHECK(reject_code(deliver(response, c)) == reject_reason::authentication_failed);
  // Relayed where it belongs it is just a wire between A and B, who agree on
  // the exchange; that is not an attack on the handshake (PROTOCOL.md §6.1.1).
  auto accept = deliver(response, b);
  deliver(accept, a);
  CHECK(a.established());
  CHECK(b.established());
}

TEST_CASE("a reflection back to the same node is refused", "[remote][handshake][attack]") {
  // The attacker lets A dial it and plays A's own frames back to A.
  handshake dial(handshake::role::initiator, config("node-a", 100, "shared"));
  handshake listen(handshake::role::acceptor, config("node-a", 100, "shared"));
  std::vector<std::byte> hello;
  dial.start(hello);
  // A's hello sent to A's own listener: same name and incarnation.
  CHECK(reject_code(deliver(hello, listen)) == reject_reason::self_connection);
  // A's own challenge (from a listener session) played to A's dialing side.
  handshake listen2(handshake::role::acceptor, config("node-a", 100, "shared"));
  auto challenge =
      deliver(intro_frame(frame_kind::hello, "node-b", 200, counting_nonce(4)), listen2);
  CHECK(reject_code(deliver(challenge, dial)) == reject_reason::self_connection);
  CHECK_FALSE(dial.established());
  // Under another incarnation the labels still keep the roles apart: the
  // initiator proof A gives is never a valid acceptor proof, nor the reverse.
  handshake_transcript t = known_transcript();
  CHECK(handshake_proof("s", proof_role::initiator, t) !=
        handshake_proof("s", proof_role::acceptor, t));
}

TEST_CASE("a reconnect refuses a node other than the one it expects, before proving",
          "[remote][handshake]") {
  auto cfg = config("node-a", 11, "s3cret");
  cfg.expected_peer = "node-b";
  handshake a(handshake::role::initiator, cfg);
  std::vector<std::byte> hello;
  a.start(hello);
  handshake c(handshake::role::acceptor, config("node-c", 33, "s3cret"));
  auto challenge = deliver(hello, c);
  auto answer = deliver(challenge, a);
  CHECK(a.failed());
  CHECK(reject_code(answer) == reject_reason::unexpected_peer);  // no response: no proof
  CHECK(a.failure().find("expected node 'node-b' but 'node-c' answered") != std::string::npos);

  handshake a2(handshake::role::initiator, cfg);
  handshake b(handshake::role::acceptor, config("node-b", 44, "s3cret"));
  converse(a2, b);
  CHECK(a2.established());  // same name, any incarnation: the node layer judges that
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
  auto older = config("node-a", 11, "s");
  older.version = 1;
  handshake a(handshake::role::initiator, older);
  handshake b(handshake::role::acceptor, config("node-b", 22, "s"));
  std::vector<std::byte> hello;
  a.start(hello);
  auto answer = deliver(hello, b);
  CHECK(b.failed());
  CHECK(reject_code(answer) == reject_reason::version_mismatch);
  CHECK(b.failure().find("version 1, we speak 3") != std::string::npos);
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
    body.resize(80);  // version 1's challenge size
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

TEST_CASE("reject texts are cut to 200 bytes, whatever names they quote", "[remote][handshake]") {
  std::string long_name(255, 'n');
  auto cfg = config(long_name, 11, "s");
  cfg.expected_peer = std::string(255, 'e');
  handshake a(handshake::role::initiator, cfg);
  std::vector<std::byte> hello;
  a.start(hello);
  auto answer =
      deliver(intro_frame(frame_kind::challenge, std::string(255, 'c'), 2, counting_nonce(0)), a);
  REQUIRE(a.failed());
  CHECK(a.failure().size() > 700);  // the whole text stays in our own log
  parse_result r = parse_frame(answer);
  REQUIRE(r.value.kind == frame_kind::reject);
  CHECK(r.value.payload.size() == 2 + 200);
  CHECK(answer.size() <= 32 + 2 + 200);
}

TEST_CASE("with TLS, a relay between two TLS sessions is refused: proofs cover the binding",
          "[remote][handshake][attack]") {
  // An attacker with its own valid certificate terminates one TLS session
  // with A (exporter X1) and another with B (X2) and passes the handshake
  // frames between them unchanged. Without the binding that relay would
  // authenticate the attacker to both; with it, A proves over X1 and B
  // checks against X2.
  auto binding = [](std::uint8_t fill) { return std::vector<std::byte>(32, std::byte{fill}); };
  handshake_config ca = config("node-a", 100, "shared");
  handshake_config cb = config("node-b", 200, "shared");
  ca.channel_binding = binding(0x11);
  cb.channel_binding = binding(0x22);
  handshake a(handshake::role::initiator, ca);
  handshake b(handshake::role::acceptor, cb);
  converse(a, b);
  CHECK(b.failed());
  CHECK_FALSE(a.established());
  CHECK(b.failure_code() == static_cast<std::uint16_t>(reject_reason::authentication_failed));

  // Both ends of one TLS session export the same bytes: the handshake holds.
  cb.channel_binding = binding(0x11);
  handshake a2(handshake::role::initiator, ca);
  handshake b2(handshake::role::acceptor, cb);
  converse(a2, b2);
  CHECK(a2.established());
  CHECK(b2.established());

  // The binding is in the proven message; a plaintext transcript has none,
  // so plaintext proofs are the bytes they were before TLS.
  handshake_transcript t = known_transcript();
  auto plain = proof_message(proof_role::initiator, t);
  auto x = binding(0x11);
  t.channel_binding = x;
  auto bound = proof_message(proof_role::initiator, t);
  REQUIRE(bound.size() == plain.size() + 2 + 32);
  CHECK(std::equal(plain.begin(), plain.end(), bound.begin()));
  CHECK(handshake_proof("shared", proof_role::initiator, t) !=
        handshake_proof("shared", proof_role::initiator, known_transcript()));
}
