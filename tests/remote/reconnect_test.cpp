// Reconnects and incarnations (transport.hpp, PROTOCOL.md §10): an outbound
// connection keeps its queue while it reconnects. The same incarnation gets
// what was queued during the gap, after it and in order; a new incarnation
// gets none of it (undelivered, close_reason::node_restarted), and every
// frame still ends in exactly one counter.
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <mutex>
#include <vector>

using namespace volley::remote;
using namespace volley::remote::test;

namespace {

/// Counts frames (sequence numbers in correlation_id, which must rise) and
/// the reasons of undelivered ones.
class sequence_handler : public transport_handler {
 public:
  void on_up(const peer_info& peer, std::uint64_t) override {
    std::lock_guard lock(m_);
    ups_.push_back(peer);
    cv_.notify_all();
  }
  void on_down(const peer_info&, close_reason, std::string_view) override {
    std::lock_guard lock(m_);
    ++downs_;
    cv_.notify_all();
  }
  void on_frame(const peer_info&, const frame& f) override {
    std::lock_guard lock(m_);
    if (!seqs_.empty() && f.correlation_id <= seqs_.back()) backwards_ = true;
    seqs_.push_back(f.correlation_id);
    cv_.notify_all();
  }
  void on_undelivered(connection_id, const frame&, close_reason reason) override {
    std::lock_guard lock(m_);
    undelivered_.push_back(reason);
    cv_.notify_all();
  }
  template <class Pred>
  bool wait(Pred pred) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, patience, [&] { return pred(*this); });
  }
  template <class F>
  auto with_lock(F f) {
    std::lock_guard lock(m_);
    return f(*this);
  }

  std::vector<peer_info> ups_;
  int downs_ = 0;
  std::vector<std::uint64_t> seqs_;
  bool backwards_ = false;
  std::vector<close_reason> undelivered_;

 private:
  std::mutex m_;
  std::condition_variable cv_;
};

}  // namespace

TEST_CASE(
    "frames queued while the link is down reach the same incarnation after the gap, "
    "in order",
    "[remote][transport][reconnect]") {
  sequence_handler ha, hb;
  transport b(test_config("node-b"), hb);
  transport a(test_config("node-a"), ha);
  connection_id id = a.connect("127.0.0.1", b.port());
  REQUIRE(ha.wait([](auto& h) { return h.ups_.size() == 1; }));
  for (std::uint64_t i = 1; i <= 100; ++i)
    REQUIRE(a.send(id, numbered_frame(i)) == send_result::queued);
  REQUIRE(hb.wait([](auto& h) { return h.seqs_.size() == 100; }));

  // B drops the connection (its process lives on: the same incarnation).
  connection_id at_b = hb.with_lock([](auto& h) { return h.ups_.at(0).id; });
  b.disconnect(at_b);
  REQUIRE(ha.wait([](auto& h) { return h.downs_ == 1; }));
  // Queued during the gap: they wait for the reconnect.
  for (std::uint64_t i = 101; i <= 300; ++i)
    REQUIRE(a.send(id, numbered_frame(i)) == send_result::queued);
  REQUIRE(ha.wait([](auto& h) { return h.ups_.size() == 2; }));
  CHECK(ha.with_lock([](auto& h) { return h.ups_[1].incarnation == h.ups_[0].incarnation; }));
  REQUIRE(hb.wait([](auto& h) { return !h.seqs_.empty() && h.seqs_.back() == 300; }));
  hb.with_lock([](auto& h) {
    CHECK_FALSE(h.backwards_);
    // Nothing was in flight at the cut (all 100 had been handled), so nothing is lost.
    CHECK(h.seqs_.size() == 300);
  });
  REQUIRE(poll_until([&] { return balanced(a.stats()); }));
  CHECK(a.stats().frames_undelivered == 0);
}

TEST_CASE("frames queued for a node that restarts are not sent to its new incarnation",
          "[remote][transport][reconnect]") {
  sequence_handler ha, hb, hb2;
  auto b = std::make_unique<transport>(test_config("node-b"), hb);
  std::uint16_t port = b->port();
  transport a(test_config("node-a"), ha);
  connection_id id = a.connect("127.0.0.1", port);
  REQUIRE(ha.wait([](auto& h) { return h.ups_.size() == 1; }));
  REQUIRE(a.send(id, numbered_frame(1)) == send_result::queued);
  REQUIRE(hb.wait([](auto& h) { return h.seqs_.size() == 1; }));

  b.reset();  // node-b goes away
  REQUIRE(ha.wait([](auto& h) { return h.downs_ == 1; }));
  constexpr std::uint64_t meant_for_old = 50;
  for (std::uint64_t i = 2; i < 2 + meant_for_old; ++i)
    REQUIRE(a.send(id, numbered_frame(i)) == send_result::queued);

  // node-b comes back on the same port: a new incarnation.
  auto cfg = test_config("node-b");
  cfg.listen_port = port;
  transport b2(cfg, hb2);
  REQUIRE(ha.wait([](auto& h) { return h.ups_.size() == 2; }));
  CHECK(ha.with_lock([](auto& h) { return h.ups_[1].incarnation != h.ups_[0].incarnation; }));
  REQUIRE(ha.wait([&](auto& h) { return h.undelivered_.size() == meant_for_old; }));
  ha.with_lock([](auto& h) {
    for (close_reason r : h.undelivered_) CHECK(r == close_reason::node_restarted);
  });
  // Sent after the new incarnation came up: delivered, and nothing before it.
  REQUIRE(a.send(id, numbered_frame(1000)) == send_result::queued);
  REQUIRE(hb2.wait([](auto& h) { return !h.seqs_.empty(); }));
  hb2.with_lock([](auto& h) {
    CHECK(h.seqs_.size() == 1);
    CHECK(h.seqs_.front() == 1000);
  });
  REQUIRE(poll_until([&] { return balanced(a.stats()); }));
  CHECK(a.stats().frames_undelivered == meant_for_old);
}

TEST_CASE("reset closes a connection and reconnects it at once", "[remote][transport][reconnect]") {
  sequence_handler ha, hb;
  transport b(test_config("node-b"), hb);
  auto cfg = test_config("node-a");
  // A backoff this long would fail the test if reset waited for it.
  cfg.reconnect_min_backoff = std::chrono::milliseconds(30'000);
  cfg.reconnect_max_backoff = std::chrono::milliseconds(30'000);
  transport a(cfg, ha);
  connection_id id = a.connect("127.0.0.1", b.port());
  REQUIRE(ha.wait([](auto& h) { return h.ups_.size() == 1; }));
  a.reset(id);
  REQUIRE(ha.wait([](auto& h) { return h.downs_ == 1; }));
  REQUIRE(ha.wait([](auto& h) { return h.ups_.size() == 2; }));
  CHECK(a.stats().closes_for(close_reason::node_restarted) == 1);
}
