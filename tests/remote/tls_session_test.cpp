// TLS sessions on memory BIOs, two ends pumped against each other in memory:
// mutual authentication, name binding, the exporter, and every refusal the
// node relies on (wrong CA, expired certificate, plaintext peer, bad files).
#include "tls_session.hpp"

#include "test_certificates.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

using volley::remote::tls_config;
using volley::remote::detail::tls_context;
using volley::remote::detail::tls_session;
using volley::remote::testing::test_pki;

namespace {

struct pump_result {
  tls_session::status caller;
  tls_session::status acceptor;
};

/// Moves ciphertext between the two ends until neither has anything to say.
pump_result pump(tls_session& caller, tls_session& acceptor, std::vector<std::byte>& caller_in,
                 std::vector<std::byte>& acceptor_in) {
  pump_result r{tls_session::status::ok, tls_session::status::ok};
  for (int round = 0; round < 16; ++round) {
    r.caller = caller.receive(caller_in);
    std::vector<std::byte> wire;
    caller.take_output(wire);
    acceptor.feed(wire);
    r.acceptor = acceptor.receive(acceptor_in);
    std::vector<std::byte> back;
    acceptor.take_output(back);
    caller.feed(back);
    if (wire.empty() && back.empty()) break;
  }
  return r;
}

/// A caller on `from` and an acceptor on `to`, their handshake pumped until
/// neither end has anything more to say.
struct handshake {
  handshake(tls_context& from, tls_context& to)
      : caller(from, tls_session::role::caller),
        acceptor(to, tls_session::role::acceptor),
        result(pump(caller, acceptor, at_caller, at_acceptor)) {}

  tls_session caller;
  tls_session acceptor;
  std::vector<std::byte> at_caller;  ///< what the caller received
  std::vector<std::byte> at_acceptor;
  pump_result result;
};

std::vector<std::byte> bytes(const std::string& s) {
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

}  // namespace

TEST_CASE("two nodes with certificates from the cluster CA complete a TLS 1.3 handshake") {
  test_pki pki;
  auto ca = pki.make_ca("cluster-ca");
  auto a = pki.make_node(ca, "node-a");
  auto b = pki.make_node(ca, "node-b");
  tls_context ctx_a(test_pki::config(a, ca));
  tls_context ctx_b(test_pki::config(b, ca));
  handshake h(ctx_a, ctx_b);
  tls_session& caller = h.caller;
  tls_session& acceptor = h.acceptor;
  REQUIRE(h.result.caller == tls_session::status::ok);
  REQUIRE(h.result.acceptor == tls_session::status::ok);
  REQUIRE(caller.handshake_done());
  REQUIRE(acceptor.handshake_done());

  SECTION("each end's certificate names that node, and only that node") {
    CHECK(caller.peer_is("node-b"));
    CHECK_FALSE(caller.peer_is("node-a"));
    CHECK(acceptor.peer_is("node-a"));
    CHECK_FALSE(acceptor.peer_is("node-b"));
    CHECK_FALSE(acceptor.peer_is("node-a.evil"));
  }

  SECTION("both ends derive the same exporter value, and another label gives another") {
    auto x = caller.exporter("volley handshake");
    CHECK(x == acceptor.exporter("volley handshake"));
    CHECK(x != caller.exporter("another label"));
  }

  SECTION("application data crosses encrypted, in order, both ways") {
    std::string hello = "hello frame";
    REQUIRE(caller.send(bytes(hello)) == tls_session::status::ok);
    std::vector<std::byte> wire;
    caller.take_output(wire);
    REQUIRE_FALSE(wire.empty());
    std::string on_wire(reinterpret_cast<const char*>(wire.data()), wire.size());
    CHECK(on_wire.find(hello) == std::string::npos);  // not in clear text
    acceptor.feed(wire);
    std::vector<std::byte> got;
    REQUIRE(acceptor.receive(got) == tls_session::status::ok);
    CHECK(got == bytes(hello));

    std::vector<std::byte> big(200'000);
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::byte>(i * 7);
    REQUIRE(acceptor.send(big) == tls_session::status::ok);
    std::vector<std::byte> back;
    acceptor.take_output(back);
    // Delivered in odd-sized pieces, as a socket would.
    std::vector<std::byte> received;
    for (std::size_t at = 0; at < back.size(); at += 1000) {
      caller.feed(std::span(back).subspan(at, std::min<std::size_t>(1000, back.size() - at)));
      REQUIRE(caller.receive(received) == tls_session::status::ok);
    }
    CHECK(received == big);
  }
}

TEST_CASE("a peer certificate from another CA is refused with the verifier's reason") {
  test_pki pki;
  auto ca = pki.make_ca("cluster-ca");
  auto rogue_ca = pki.make_ca("rogue-ca");
  auto a = pki.make_node(ca, "node-a");
  auto intruder = pki.make_node(rogue_ca, "node-b");
  tls_context ctx_a(test_pki::config(a, ca));
  // The intruder trusts the cluster CA, so only node-a's check can stop it.
  tls_context ctx_i(test_pki::config(intruder, ca));
  handshake h(ctx_i, ctx_a);
  REQUIRE(h.result.acceptor == tls_session::status::failed);
  CHECK_FALSE(h.acceptor.handshake_done());
  INFO(h.acceptor.error());
  CHECK(h.acceptor.error().find("peer certificate refused") == 0);
  CHECK(h.acceptor.error().find("local issuer") != std::string::npos);
}

TEST_CASE("an expired peer certificate is refused as expired") {
  test_pki pki;
  auto ca = pki.make_ca("cluster-ca");
  auto a = pki.make_node(ca, "node-a");
  auto stale = pki.make_node(ca, "node-b", -400, -30);  // expired a month ago
  tls_context ctx_a(test_pki::config(a, ca));
  tls_context ctx_s(test_pki::config(stale, ca));

  SECTION("the acceptor refuses an expired caller") {
    handshake h(ctx_s, ctx_a);
    REQUIRE(h.result.acceptor == tls_session::status::failed);
    INFO(h.acceptor.error());
    CHECK(h.acceptor.error() == "peer certificate refused: certificate has expired");
  }
  SECTION("the caller refuses an expired acceptor") {
    handshake h(ctx_a, ctx_s);
    REQUIRE(h.result.caller == tls_session::status::failed);
    INFO(h.caller.error());
    CHECK(h.caller.error() == "peer certificate refused: certificate has expired");
  }
}

TEST_CASE("plaintext sent to a TLS acceptor fails its handshake with a reason") {
  test_pki pki;
  auto ca = pki.make_ca("cluster-ca");
  auto a = pki.make_node(ca, "node-a");
  tls_context ctx_a(test_pki::config(a, ca));
  tls_session acceptor(ctx_a, tls_session::role::acceptor);
  // The start of a plaintext volley frame: a length, then a kind byte.
  acceptor.feed(bytes(std::string("\x00\x00\x00\x30\x01\x00\x00\x00", 8) + std::string(48, 'x')));
  std::vector<std::byte> got;
  REQUIRE(acceptor.receive(got) == tls_session::status::failed);
  CHECK(got.empty());
  INFO(acceptor.error());
  CHECK(acceptor.error().find("TLS handshake failed") == 0);
}

TEST_CASE("a TLS configuration that cannot work fails at start and names what to fix") {
  test_pki pki;
  auto ca = pki.make_ca("cluster-ca");
  auto a = pki.make_node(ca, "node-a");
  auto b = pki.make_node(ca, "node-b");

  auto message_of = [](const tls_config& cfg) {
    try {
      tls_context ctx(cfg);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };

  CHECK_FALSE(tls_config{}.enabled());
  tls_config partial{.certificate = a.certificate_path, .private_key = {}, .ca = {}};
  CHECK(partial.enabled());
  CHECK(message_of(partial).find("needs all three") != std::string::npos);

  tls_config missing = test_pki::config(a, ca);
  missing.certificate = (pki.dir() / "nope.pem").string();
  CHECK(message_of(missing).find("nope.pem") != std::string::npos);

  tls_config mismatched = test_pki::config(a, ca);
  mismatched.private_key = b.key_path;
  CHECK(message_of(mismatched).find("does not match") != std::string::npos);

  tls_config empty_ca = test_pki::config(a, ca);
  empty_ca.ca = pki.write_file("empty-ca.pem", "not a certificate\n");
  CHECK(message_of(empty_ca).find("empty-ca.pem") != std::string::npos);

  CHECK(message_of(test_pki::config(a, ca)) == "(accepted)");
}
