// remote::node with TLS: two actor systems in one process, each with a node
// on 127.0.0.1, certificates made at test time (test_certificates.hpp). The
// happy path (tells in order, asks answered, both directions) and every
// refusal the TLS section of issue 8 lists, each checked for its logged reason.
#include "node_test_support.hpp"
#include "test_certificates.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using namespace volley::remote::test;
using namespace std::chrono_literals;
using volley::remote::node;
using volley::remote::node_config;
using volley::remote::testing::issued;
using volley::remote::testing::test_pki;

namespace {

/// A node's log lines, kept for the test to search.
class log_capture {
 public:
  std::function<void(volley::remote::log_level, std::string_view)> sink() {
    return [this](volley::remote::log_level, std::string_view line) {
      std::lock_guard lock(m_);
      lines_.emplace_back(line);
    };
  }
  /// Waits until a line contains `needle`; false after `within`.
  bool wait_for(std::string_view needle, std::chrono::milliseconds within = 30s) {
    auto give_up = std::chrono::steady_clock::now() + within;
    for (;;) {
      {
        std::lock_guard lock(m_);
        for (const auto& l : lines_)
          if (l.find(needle) != std::string::npos) return true;
      }
      if (std::chrono::steady_clock::now() > give_up) return false;
      std::this_thread::sleep_for(10ms);
    }
  }
  /// The first line containing `needle` (empty if none).
  std::string first_with(std::string_view needle) {
    std::lock_guard lock(m_);
    for (const auto& l : lines_)
      if (l.find(needle) != std::string::npos) return l;
    return {};
  }
  std::string all() {
    std::lock_guard lock(m_);
    std::string out;
    for (const auto& l : lines_) out += l + "\n";
    return out;
  }

 private:
  std::mutex m_;
  std::vector<std::string> lines_;
};

/// A cluster CA and certificates for node-a and node-b.
struct cluster_pki {
  test_pki pki;
  issued ca = pki.make_ca("cluster-ca");
  issued cert_a = pki.make_node(ca, "node-a");
  issued cert_b = pki.make_node(ca, "node-b");
};

node_config tls_config_for(std::string name, const issued& cert, const issued& ca,
                           log_capture& log) {
  node_config c = node_config_for(std::move(name));
  c.transport.tls = test_pki::config(cert, ca);
  c.log = log.sink();
  return c;
}

node_config plain_config_for(std::string name, log_capture& log) {
  node_config c = node_config_for(std::move(name));
  c.log = log.sink();
  return c;
}

/// A (the caller) and B (the acceptor), each from its own config; B runs
/// /user/collector. Declared so that logs outlive systems, systems nodes.
struct pair_of_nodes {
  log_capture log_a, log_b;
  seen_state seen;
  volley::system sys_a{system_config()};
  volley::system sys_b{system_config()};
  volley::actor_ref<collector_actor> collector =
      sys_b.spawn<collector_actor>(volley::props{.name = "collector"}, &seen);
  std::unique_ptr<node> node_a, node_b;

  void start(node_config a, node_config b) {
    node_b = std::make_unique<node>(sys_b, std::move(b), test_types());
    node_a = std::make_unique<node>(sys_a, std::move(a), test_types());
  }
  volley::remote::remote_system connect() { return node_a->connect("127.0.0.1", node_b->port()); }
};

/// The connection never comes up, and B's log gives `reason`.
void check_refused(pair_of_nodes& p, std::string_view reason_at_b) {
  auto to_b = p.connect();
  INFO("A's log:\n" << p.log_a.all() << "B's log:\n" << p.log_b.all());
  CHECK(p.log_b.wait_for(reason_at_b));
  CHECK_FALSE(to_b.is_up());
  to_b.disconnect();
}

}  // namespace

TEST_CASE("two TLS nodes tell and ask both ways; tells arrive in order", "[remote][node][tls]") {
  cluster_pki certs;
  seen_state seen_a;  // outlives p, whose system A runs the actor that writes it
  pair_of_nodes p;
  auto collector_a = p.sys_a.spawn<collector_actor>(volley::props{.name = "collector"}, &seen_a);
  p.start(tls_config_for("node-a", certs.cert_a, certs.ca, p.log_a),
          tls_config_for("node-b", certs.cert_b, certs.ca, p.log_b));
  auto to_b = p.connect();
  auto to_a = p.node_b->connect("127.0.0.1", p.node_a->port());
  INFO("A's log:\n" << p.log_a.all() << "B's log:\n" << p.log_b.all());
  REQUIRE(to_b.wait_up(patience));
  REQUIRE(to_a.wait_up(patience));
  // Both connected: one connection is kept (PROTOCOL.md §6.6); the tells
  // below go on it.
  REQUIRE(one_association(*p.node_a, *p.node_b));
  CHECK(to_b.peer_name() == "node-b");
  CHECK(to_a.peer_name() == "node-a");

  // Enough tells that batches of many frames, and records of full size, go out.
  constexpr std::uint64_t count = 20'000;
  volley::any_ref remote_b = to_b.select("/user/collector");
  volley::any_ref remote_a = to_a.select("/user/collector");
  for (std::uint64_t i = 0; i < count; ++i) {
    remote_b.tell(numbered{0, i});
    remote_a.tell(numbered{1, i});
  }
  auto on_b = remote_b.ask<std::uint64_t>(tally{});
  auto on_a = remote_a.ask<std::uint64_t>(tally{});
  REQUIRE(p.seen.wait([&] { return p.seen.numbered_count == count; }));
  REQUIRE(seen_a.wait([&] { return seen_a.numbered_count == count; }));
  // The tallies were asked after every tell: answered, and in order (0 = disorder).
  auto tally_b = on_b.get(patience);
  auto tally_a = on_a.get(patience);
  REQUIRE(tally_b.ok());
  REQUIRE(tally_a.ok());
  CHECK(tally_b.value() == count);
  CHECK(tally_a.value() == count);

  auto r = remote_b.ask<pong>(ping{41}).get(patience);
  REQUIRE(r.ok());
  CHECK(r.value().n == 42);
  auto big = remote_a.ask<text>(text{std::string(100'000, 'x')}).get(patience);
  REQUIRE(big.ok());
  CHECK(big.value().s.size() == 100'000 + 6);
  CHECK(p.sys_a.dead_letters().count() == 0);
  CHECK(p.sys_b.dead_letters().count() == 0);
  (void)collector_a;
}

TEST_CASE("a certificate signed by another CA is refused with the verifier's reason",
          "[remote][node][tls]") {
  cluster_pki certs;
  issued rogue_ca = certs.pki.make_ca("rogue-ca");
  issued rogue_a = certs.pki.make_node(rogue_ca, "node-a-rogue");
  pair_of_nodes p;
  // A trusts the cluster CA (so it accepts B) but shows a certificate B's CA never signed.
  p.start(tls_config_for("node-a", rogue_a, certs.ca, p.log_a),
          tls_config_for("node-b", certs.cert_b, certs.ca, p.log_b));
  auto to_b = p.connect();
  INFO("A's log:\n" << p.log_a.all() << "B's log:\n" << p.log_b.all());
  CHECK(p.log_b.wait_for("peer certificate refused: unable to get local issuer certificate"));
  // A learns why from B's alert on its first attempt: B shuts down writing
  // after the alert and reads until A closes, so no reset (A's hello was
  // already on its way) can overtake the alert and make A's kernel drop it.
  if (!p.log_a.wait_for("alert unknown ca"))
    FAIL_CHECK("A's log:\n" << p.log_a.all() << "B's log:\n" << p.log_b.all());
  std::string first_close = p.log_a.first_with("closed:");
  INFO("A's log:\n" << p.log_a.all());
  CHECK(first_close.find("alert unknown ca") != std::string::npos);
  CHECK_FALSE(to_b.is_up());
  to_b.disconnect();
}

TEST_CASE("an expired certificate is refused with the verifier's reason", "[remote][node][tls]") {
  cluster_pki certs;
  issued expired_a = certs.pki.make_node(certs.ca, "node-a-expired", -30, -1);
  pair_of_nodes p;
  p.start(tls_config_for("node-a", expired_a, certs.ca, p.log_a),
          tls_config_for("node-b", certs.cert_b, certs.ca, p.log_b));
  check_refused(p, "peer certificate refused: certificate has expired");
}

TEST_CASE("a plaintext node calling a TLS node is refused", "[remote][node][tls]") {
  cluster_pki certs;
  pair_of_nodes p;
  p.start(plain_config_for("node-a", p.log_a),
          tls_config_for("node-b", certs.cert_b, certs.ca, p.log_b));
  check_refused(p, "peer speaks plaintext");
}

TEST_CASE("a TLS node calling a plaintext node is refused", "[remote][node][tls]") {
  cluster_pki certs;
  pair_of_nodes p;
  p.start(tls_config_for("node-a", certs.cert_a, certs.ca, p.log_a),
          plain_config_for("node-b", p.log_b));
  check_refused(p, "peer speaks TLS; this node has no tls configured");
  CHECK(p.log_a.wait_for("TLS handshake failed"));
}

TEST_CASE("a valid certificate for another node name is refused", "[remote][node][tls]") {
  cluster_pki certs;
  issued other = certs.pki.make_node(certs.ca, "node-x");
  pair_of_nodes p;
  // Signed by the right CA, but it names node-x while A claims to be node-a.
  p.start(tls_config_for("node-a", other, certs.ca, p.log_a),
          tls_config_for("node-b", certs.cert_b, certs.ca, p.log_b));
  check_refused(p, "TLS certificate does not name node 'node-a'");
  // B refused before proving: A's log has B's reject, with the reason.
  if (!p.log_a.wait_for("does not name node 'node-a'"))
    FAIL_CHECK("A's log:\n" << p.log_a.all() << "B's log:\n" << p.log_b.all());
}

TEST_CASE("with TLS the shared secret still gates the cluster", "[remote][node][tls]") {
  cluster_pki certs;
  pair_of_nodes p;
  node_config a = tls_config_for("node-a", certs.cert_a, certs.ca, p.log_a);
  a.secret = "not-the-cluster-secret";
  p.start(std::move(a), tls_config_for("node-b", certs.cert_b, certs.ca, p.log_b));
  check_refused(p, "rejected the proof of initiator 'node-a'");
}

TEST_CASE("bad TLS files fail the node at start, naming the file", "[remote][node][tls]") {
  cluster_pki certs;
  volley::system sys{system_config()};
  log_capture log;
  node_config missing_ca = tls_config_for("node-a", certs.cert_a, certs.ca, log);
  missing_ca.transport.tls.ca.clear();
  CHECK_THROWS_WITH(node(sys, missing_ca, test_types()),
                    Catch::Contains("needs all three of certificate, private_key and ca"));
  node_config garbage = tls_config_for("node-a", certs.cert_a, certs.ca, log);
  garbage.transport.tls.certificate = certs.pki.write_file("garbage.pem", "not a certificate");
  CHECK_THROWS_WITH(node(sys, garbage, test_types()), Catch::Contains("garbage.pem"));
  node_config mismatch = tls_config_for("node-a", certs.cert_a, certs.ca, log);
  mismatch.transport.tls.private_key = certs.cert_b.key_path;
  CHECK_THROWS_WITH(node(sys, mismatch, test_types()), Catch::Contains("does not match"));
}
