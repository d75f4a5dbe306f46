// remote::node against peers that know the secret but misbehave: replies to
// other connections' asks, an old incarnation that is still connected, and
// frames to actors or of kinds that node_config::access does not allow.
// Fake peers speak the protocol by hand (fake_node, raw_peer) so they can do
// what a volley node never would.
#include "../../remote/src/incarnation.hpp"
#include "node_test_support.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace volley::remote;
using namespace volley::remote::test;
using namespace std::chrono_literals;

namespace {

/// A frame as a fake peer keeps it.
struct seen_frame {
  frame_kind kind{};
  std::string target;
  std::string sender_path;
  std::uint64_t marker = 0;
  std::uint64_t correlation = 0;
  std::vector<std::byte> payload;
};

/// A node that listens, completes the handshake as the acceptor (name and
/// incarnation of the test's choice), and then does only what the test says.
class fake_node {
 public:
  fake_node(std::string name, std::uint64_t incarnation)
      : name_(std::move(name)), incarnation_(incarnation) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(listen_fd_, 4) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("fake_node: listen");
    port_ = ntohs(a.sin_port);
    timeval tv{60, 0};  // a stuck accept or read fails the test instead of hanging it
    setsockopt(listen_fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~fake_node() {
    if (fd_ >= 0) ::close(fd_);
    ::close(listen_fd_);
  }
  std::uint16_t port() const { return port_; }

  /// Accepts one connection and runs the acceptor's side of the handshake.
  bool accept_and_handshake(const std::string& secret = "test-secret") {
    fd_ = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd_ < 0) return false;
    timeval tv{60, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    handshake_config c;
    c.node_name = name_;
    c.incarnation = incarnation_;
    c.secret = secret;
    handshake hs(handshake::role::acceptor, c);
    while (!hs.established() && !hs.failed()) {
      std::byte buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      std::vector<std::byte> out;
      decoder_.feed(std::span<const std::byte>(buf, static_cast<std::size_t>(n)),
                    [&](const frame& f) {
                      if (!hs.established())
                        hs.on_frame(f, out);
                      else
                        keep(f);
                    });
      write_all(out);
    }
    return hs.established();
  }

  /// The next frame of `kind` (others are skipped); false at EOF or error.
  bool next(frame_kind kind, seen_frame& out) {
    for (;;) {
      for (auto it = pending_.begin(); it != pending_.end(); ++it) {
        if (it->kind == kind) {
          out = std::move(*it);
          pending_.erase(it);
          return true;
        }
      }
      std::byte buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      decoder_.feed(std::span<const std::byte>(buf, static_cast<std::size_t>(n)),
                    [&](const frame& f) { keep(f); });
    }
  }

  void send(const frame& f) {
    std::vector<std::byte> b;
    encode_append(f, b);
    write_all(b);
  }

 private:
  void keep(const frame& f) {
    pending_.push_back({f.kind,
                        std::string(f.target_path),
                        std::string(f.sender_path),
                        f.type_marker,
                        f.correlation_id,
                        {f.payload.begin(), f.payload.end()}});
  }
  void write_all(const std::vector<std::byte>& b) {
    std::size_t at = 0;
    while (at < b.size()) {
      ssize_t n = ::send(fd_, b.data() + at, b.size() - at, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("fake_node: send");
      at += static_cast<std::size_t>(n);
    }
  }

  std::string name_;
  std::uint64_t incarnation_;
  int listen_fd_ = -1;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  frame_decoder decoder_;
  std::vector<seen_frame> pending_;
};

/// An ask_reply carrying pong{n} (marker 3 in test_types()).
frame pong_reply(std::uint64_t correlation, const int& n) {
  frame f;
  f.kind = frame_kind::ask_reply;
  f.type_marker = 3;
  f.correlation_id = correlation;
  f.payload = std::as_bytes(std::span(&n, 1));
  return f;
}

}  // namespace

TEST_CASE(
    "an authenticated third node cannot complete another connection's ask, even with the "
    "right id",
    "[remote][node][security]") {
  log_lines log_a;
  volley::system sys_a{system_config()};
  auto cfg = node_config_for("node-a");
  cfg.log = log_a.sink();
  node node_a(sys_a, cfg, test_types());
  fake_node b("node-b", 0xb0b);
  remote_system to_b = node_a.connect("127.0.0.1", b.port());
  REQUIRE(b.accept_and_handshake());
  REQUIRE(to_b.wait_up(patience));

  volley::any_ref remote = to_b.select("/user/service");
  auto first = remote.ask<pong>(ping{1});
  auto second = remote.ask<pong>(ping{2});
  seen_frame ask1, ask2;
  REQUIRE(b.next(frame_kind::ask_request, ask1));
  REQUIRE(b.next(frame_kind::ask_request, ask2));
  // Ids nobody can guess: not zero, not counting up.
  CHECK(ask1.correlation != 0);
  CHECK(ask2.correlation != 0);
  CHECK(ask2.correlation != ask1.correlation + 1);
  CHECK(ask2.correlation != ask1.correlation);
  REQUIRE(node_a.stats().pending_asks == 2);

  // C knows the secret and the ids (it observed them, or guesses the old
  // counter's 1, 2, ...) and answers on its own connection.
  raw_peer c(node_a.port());
  REQUIRE(c.handshake_as("node-c", "test-secret"));
  c.send_frame(pong_reply(ask1.correlation, 666));
  c.send_frame(pong_reply(ask2.correlation, 666));
  for (std::uint64_t guess = 1; guess <= 50; ++guess) c.send_frame(pong_reply(guess, 666));
  REQUIRE(poll_until([&] { return node_a.stats().foreign_replies == 2; }));
  // The guesses match nothing; the observed ids are refused; nothing completed.
  auto stats = node_a.stats();
  CHECK(stats.pending_asks == 2);
  // Rate-limited: one line a second (two if a stall put them a second apart).
  CHECK(log_a.count("refused a reply from node node-c") >= 1);
  CHECK(log_a.count("refused a reply from node node-c") <= 2);

  // The node the asks went to still completes them.
  b.send(pong_reply(ask2.correlation, 20));
  b.send(pong_reply(ask1.correlation, 10));
  auto r1 = first.get(patience);
  auto r2 = second.get(patience);
  REQUIRE(r1.ok());
  REQUIRE(r2.ok());
  CHECK(r1.value().n == 10);
  CHECK(r2.value().n == 20);
  CHECK(node_a.stats().pending_asks == 0);
}

TEST_CASE(
    "a new incarnation of a known node: the old one's asks fail at once and its proxies "
    "stop with node_down",
    "[remote][node][security]") {
  seen_state seen;
  volley::system sys_a{system_config()};
  volley::system sys_b{system_config()};
  auto cfg_a = node_config_for("node-a");
  // The old incarnation's silence would take over a minute to be noticed:
  // whatever ends its asks sooner is the new incarnation.
  cfg_a.transport.phi.acceptable_pause = std::chrono::milliseconds(120'000);
  node node_a(sys_a, cfg_a, test_types());

  fake_node old_b("node-b", 0x01d);
  remote_system to_old = node_a.connect("127.0.0.1", old_b.port());
  REQUIRE(old_b.accept_and_handshake());
  REQUIRE(to_old.wait_up(patience));
  volley::any_ref remote = to_old.select("/user/collector");
  auto w = sys_a.spawn<watcher_actor>(&seen);
  w.tell(watch_this{remote});
  auto held = remote.ask<int>(hold{});  // the fake never answers
  REQUIRE(poll_until([&] { return node_a.stats().pending_asks == 1; }));

  // node-b restarts elsewhere (the old process hangs, its socket stays open)
  // and connects to A.
  auto started = std::chrono::steady_clock::now();
  node new_b(sys_b, node_config_for("node-b"), test_types());
  remote_system to_a = new_b.connect("127.0.0.1", node_a.port());
  REQUIRE(to_a.wait_up(patience));

  auto r = held.get(patience);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == volley::errc::node_down);
  CHECK(std::chrono::steady_clock::now() - started < 30s);  // not the failure detector
  REQUIRE(seen.wait([&] { return seen.terminations == 1; }));
  seen.with_lock([&] { CHECK(seen.reasons.back() == volley::termination_reason::node_down); });
  CHECK(remote.is_stopped());
  CHECK_FALSE(to_old.is_up());
  CHECK(node_a.stats().superseded_incarnations == 1);
  // A's connection to the old incarnation is closed (and reconnects at once
  // to whatever answers there), not left to its failure detector.
  REQUIRE(poll_until(
      [&] { return node_a.stats().transport.closes_for(close_reason::node_restarted) >= 1; }));
  seen_frame after;
  auto waited_from = std::chrono::steady_clock::now();
  CHECK_FALSE(old_b.next(frame_kind::message, after));  // EOF, not the 60 s read timeout
  CHECK(std::chrono::steady_clock::now() - waited_from < 30s);
}

TEST_CASE("refs selected while a link is down belong to the incarnation last seen",
          "[remote][node][security]") {
  two_nodes t;
  std::uint16_t port = t.node_b->port();
  t.node_b.reset();
  REQUIRE(poll_until([&] { return !t.to_b.is_up(); }));
  // Made during the gap: meant for the node-b that was.
  volley::any_ref during = t.to_b.select("/user/collector");
  auto w = t.sys_a.spawn<watcher_actor>(&t.seen);
  w.tell(watch_this{during});
  auto held = during.ask<int>(hold{});  // a new collector would stash it forever

  auto cfg = node_config_for("node-b");
  cfg.port = port;
  t.node_b = std::make_unique<node>(t.sys_b, cfg, test_types());
  REQUIRE(t.to_b.wait_up(patience));
  auto r = held.get(patience);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == volley::errc::node_down);
  REQUIRE(t.seen.wait([&] { return t.seen.terminations == 1; }));
  t.seen.with_lock([&] { CHECK(t.seen.reasons.back() == volley::termination_reason::node_down); });
  // Fresh refs reach the new incarnation.
  auto again = t.to_b.select("/user/collector").ask<pong>(ping{1}).get(patience);
  REQUIRE(again.ok());
  CHECK(again.value().n == 2);
}

TEST_CASE("a peer reaches only the paths node_config::access allows", "[remote][node][security]") {
  two_nodes t;
  seen_state hidden_seen;
  auto hidden = t.sys_b.spawn<collector_actor>(volley::props{.name = "private"}, &hidden_seen);
  dead_letter_log at_b(t.sys_b);

  volley::any_ref allowed = t.to_b.select("/user/collector");
  REQUIRE(allowed.ask<pong>(ping{1}).get(patience).ok());

  volley::any_ref refused = t.to_b.select("/user/private");
  auto r = refused.ask<pong>(ping{1}).get(patience);
  REQUIRE_FALSE(r.ok());
  // The same answer as for a missing actor: a peer cannot probe for paths.
  CHECK(r.err().code == volley::errc::recipient_stopped);
  auto nobody = t.to_b.select("/user/nobody").ask<pong>(ping{1}).get(patience);
  REQUIRE_FALSE(nobody.ok());
  CHECK(nobody.err().code == r.err().code);
  // A path as long as the allowed one, differing in one byte of its first or
  // of its last 8-byte word (the access check compares a word at a time).
  for (const char* name : {"xollector", "collectox"}) {
    seen_state twin_seen;
    auto twin = t.sys_b.spawn<collector_actor>(volley::props{.name = name}, &twin_seen);
    auto twin_r = t.to_b.select(std::string("/user/") + name).ask<pong>(ping{2}).get(patience);
    REQUIRE_FALSE(twin_r.ok());
    CHECK(twin_r.err().code == volley::errc::recipient_stopped);
    CHECK(twin.ask(ping{2}).get(patience).ok());  // it exists: the access list refused it
  }

  t.to_b.select("/user/private").tell(numbered{0, 0});  // may be a fresh proxy
  REQUIRE(poll_until([&] { return t.node_b->stats().refused_messages >= 5; }));
  hidden_seen.with_lock([&] { CHECK(hidden_seen.numbered_count == 0); });
  CHECK(hidden.ask(ping{3}).get(patience).ok());  // alive and well

  // The pattern "/x/*" admits what is below /x, not /x itself.
  volley::system sys_c{system_config()};
  auto cfg = node_config_for("node-c");
  cfg.access.allowed_paths = {"/user/collector/*"};
  seen_state c_seen;
  sys_c.spawn<collector_actor>(volley::props{.name = "collector"}, &c_seen);
  node node_c(sys_c, cfg, test_types());
  remote_system to_c = t.node_a.connect("127.0.0.1", node_c.port());
  REQUIRE(to_c.wait_up(patience));
  auto below_only = to_c.select("/user/collector").ask<pong>(ping{1}).get(patience);
  REQUIRE_FALSE(below_only.ok());
  CHECK(below_only.err().code == volley::errc::recipient_stopped);
}

TEST_CASE(
    "remote poison pills are refused unless allowed, and refusals are logged at most once a "
    "second",
    "[remote][node][security]") {
  auto types_with_pill = [] {
    message_types types = test_types();
    types.add<volley::poison_pill>(50, "poison_pill");
    return types;
  };
  frame pill;
  pill.kind = frame_kind::message;
  pill.target_path = "/user/collector";
  pill.type_marker = 50;
  const std::byte one{0};
  pill.payload = std::span(&one, 1);

  SECTION("refused by default") {
    log_lines log_b;
    seen_state seen;
    volley::system sys_b{system_config()};
    auto collector = sys_b.spawn<collector_actor>(volley::props{.name = "collector"}, &seen);
    auto cfg = node_config_for("node-b");
    cfg.log = log_b.sink();
    node node_b(sys_b, cfg, types_with_pill());
    raw_peer p(node_b.port());
    REQUIRE(p.handshake_as("mallory", "test-secret"));
    for (int i = 0; i < 200; ++i) p.send_frame(pill);
    frame elsewhere = pill;
    elsewhere.target_path = "/user/other";
    elsewhere.type_marker = 1;  // numbered
    numbered m{0, 0};
    elsewhere.payload = std::as_bytes(std::span(&m, 1));
    auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < 200; ++i) p.send_frame(elsewhere);
    REQUIRE(poll_until([&] {
      auto s = node_b.stats();
      return s.refused_stops == 200 && s.refused_messages == 200;
    }));
    auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started)
            .count();
    CHECK(log_b.count("refused a message of poison_pill") >= 1);
    CHECK(log_b.count("refused a message of poison_pill") <= static_cast<std::size_t>(seconds) + 2);
    CHECK(log_b.count("refused a message from node mallory to /user/other") >= 1);
    CHECK(log_b.count("refused a message from node mallory") <=
          static_cast<std::size_t>(seconds) + 2);
    CHECK(collector.ask(ping{1}).get(patience).ok());  // still running
    CHECK_FALSE(collector.is_stopped());
  }
  SECTION("allowed when the node says so") {
    seen_state seen;
    volley::system sys_b{system_config()};
    auto collector = sys_b.spawn<collector_actor>(volley::props{.name = "collector"}, &seen);
    auto cfg = node_config_for("node-b");
    cfg.access.allow_remote_stop = true;
    node node_b(sys_b, cfg, types_with_pill());
    raw_peer p(node_b.port());
    REQUIRE(p.handshake_as("trusted", "test-secret"));
    p.send_frame(pill);
    CHECK(poll_until([&] { return collector.is_stopped(); }));
    CHECK(node_b.stats().refused_stops == 0);
  }
}

TEST_CASE("stress: with a third node racing every reply, each ask gets its own peer's answer",
          "[remote][node][security][stress]") {
  constexpr int asks = 2000;
  volley::system sys_a{system_config()};
  auto cfg = node_config_for("node-a");
  cfg.transport.phi.acceptable_pause =
      std::chrono::milliseconds(120'000);  // fakes send no heartbeats
  node node_a(sys_a, cfg, test_types());
  fake_node b("node-b", 0xb0b);
  remote_system to_b = node_a.connect("127.0.0.1", b.port());
  REQUIRE(b.accept_and_handshake());
  REQUIRE(to_b.wait_up(patience));
  raw_peer c(node_a.port());
  REQUIRE(c.handshake_as("node-c", "test-secret"));

  // B answers every ask with n + 1 and hands each id to C, which answers it
  // too (with -1), racing B's reply to A.
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::uint64_t> observed;
  bool b_done = false;
  std::thread b_thread([&] {
    for (int i = 0; i < asks; ++i) {
      seen_frame ask;
      if (!b.next(frame_kind::ask_request, ask)) break;
      int n = 0;
      std::memcpy(&n, ask.payload.data(), sizeof n);
      {
        std::lock_guard lock(m);
        observed.push_back(ask.correlation);
      }
      cv.notify_one();
      if (i % 2 == 0) std::this_thread::yield();  // let C go first now and then
      b.send(pong_reply(ask.correlation, n + 1));
    }
    std::lock_guard lock(m);
    b_done = true;
    cv.notify_one();
  });
  std::thread c_thread([&] {
    std::size_t next = 0;
    for (;;) {
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return next < observed.size() || b_done; });
      if (next == observed.size() && b_done) return;
      std::uint64_t id = observed[next++];
      lock.unlock();
      c.send_frame(pong_reply(id, -1));
    }
  });

  volley::any_ref remote = to_b.select("/user/service");
  std::vector<volley::future<pong>> futures[2];
  std::thread askers[2];
  for (int t = 0; t < 2; ++t) {
    askers[t] = std::thread([&, t] {
      for (int i = t; i < asks; i += 2) futures[t].push_back(remote.ask<pong>(ping{i}));
    });
  }
  for (auto& t : askers) t.join();
  int wrong = 0, failed = 0;
  for (int t = 0; t < 2; ++t) {
    for (std::size_t k = 0; k < futures[t].size(); ++k) {
      int i = t + 2 * static_cast<int>(k);
      auto r = futures[t][k].get(patience);
      if (!r.ok()) {
        ++failed;
      } else if (r.value().n != i + 1) {
        ++wrong;
      }
    }
  }
  b_thread.join();
  c_thread.join();
  CHECK(failed == 0);
  CHECK(wrong == 0);  // no ask completed by C's -1
  CHECK(node_a.stats().pending_asks == 0);
  // C's replies were refused (foreign: it came first) or matched nothing (B's was in).
  auto foreign = node_a.stats().foreign_replies;
  INFO("replies from C that raced ahead of B's: " << foreign);
  CHECK(foreign <= static_cast<std::uint64_t>(asks));
}

namespace {
/// Sends one message with itself as the sender, then stops.
struct one_shot {
  void on(volley::any_ref target, volley::context& ctx) {
    target.tell(numbered{7, 0}, ctx);
    ctx.stop();
  }
};
}  // namespace

TEST_CASE("a link forgets the senders that stopped and still lets peers answer live ones",
          "[remote][node][security]") {
  two_nodes t;
  volley::any_ref remote = t.to_b.select("/user/collector");
  // A live sender first: its replies must keep arriving at the end.
  auto catcher = t.sys_a.spawn<pong_catcher>(volley::props{.name = "catcher"}, &t.seen);
  catcher.tell(send_ping{remote, 1});
  REQUIRE(t.seen.wait([&] { return t.seen.pongs_caught == 1; }));

  constexpr int senders = 5000;  // past the 4096 mark that starts a prune
  for (int i = 0; i < senders; ++i) t.sys_a.spawn<one_shot>().tell(remote);
  REQUIRE(t.seen.wait([&] { return t.seen.numbered_count == senders; }));
  auto exposed = t.node_a.stats().exposed_senders;
  CHECK(exposed < 4096);  // pruned once, not 5001
  CHECK(exposed >= 1);    // the catcher stays
  catcher.tell(send_ping{remote, 2});
  REQUIRE(t.seen.wait([&] { return t.seen.pongs_caught == 2; }));
  t.seen.with_lock([&] { CHECK(t.seen.last_pong == 3); });
}

TEST_CASE("a sender whose path no frame may carry is refused at the sender, every time",
          "[remote][node][security]") {
  // A node checks a sender's path once per sending thread and remembers the
  // verdict (proxy.cpp, path_check::done_by_sender): a path with a space
  // must stay refused on every send, or B would close the connection on it.
  two_nodes t;
  volley::any_ref remote = t.to_b.select("/user/collector");
  auto spaced = t.sys_a.spawn<pong_catcher>(volley::props{.name = "has space"}, &t.seen);
  auto plain = t.sys_a.spawn<pong_catcher>(volley::props{.name = "no-space"}, &t.seen);
  for (int i = 0; i < 3; ++i) spaced.tell(send_ping{remote, i});
  REQUIRE(poll_until([&] { return t.node_a.stats().send_failures >= 3; }));
  plain.tell(send_ping{remote, 10});
  REQUIRE(t.seen.wait([&] { return t.seen.pongs_caught == 1; }));
  t.seen.with_lock([&] { CHECK(t.seen.last_pong == 11); });
  CHECK(t.node_a.stats().send_failures == 3);
  CHECK(t.node_b->stats().receive_failures == 0);
}

namespace {
/// A message frame carrying an int-sized message (ping: marker 2, pong: 3).
frame int_message(std::uint64_t marker, const std::string& target, const std::string& sender,
                  const int& n) {
  frame f;
  f.kind = frame_kind::message;
  f.type_marker = marker;
  f.target_path = target;
  f.sender_path = sender;
  f.payload = std::as_bytes(std::span(&n, 1));
  return f;
}

int int_payload(const seen_frame& f) {
  int n = 0;
  REQUIRE(f.payload.size() == sizeof n);
  std::memcpy(&n, f.payload.data(), sizeof n);
  return n;
}

/// A real node A linked to a fake node B, with the state A's catchers share.
struct real_a_fake_b {
  seen_state seen;  // before the system: its actors point here
  volley::system sys_a{system_config()};
  node node_a{sys_a, node_config_for("node-a"), test_types()};
  fake_node b{"node-b", 0xb0b};
  remote_system to_b = node_a.connect("127.0.0.1", b.port());
  real_a_fake_b() {
    REQUIRE(b.accept_and_handshake());
    REQUIRE(to_b.wait_up(patience));
  }
};
}  // namespace

TEST_CASE(
    "a successor at a sender's path is another sender to a peer, which cannot reach it "
    "through its predecessor's name",
    "[remote][node][security]") {
  // Named by its path alone, a successor got what a peer sent its stopped
  // predecessor, and a peer whose notice of the stop came after the
  // successor's first message gave that message the stopped one's proxy,
  // losing the reply (node_test's successor case failed so under TSan).
  real_a_fake_b t;
  volley::any_ref remote = t.to_b.select("/user/collector");

  auto first = t.sys_a.spawn<pong_catcher>(volley::props{.name = "catcher"}, &t.seen);
  first.tell(send_ping{remote, 1});
  seen_frame ping1;
  REQUIRE(t.b.next(frame_kind::message, ping1));
  CHECK(ping1.sender_path.starts_with("/user/catcher#"));
  first.stop();
  REQUIRE(poll_until([&] { return !t.sys_a.select("/user/catcher"); }));

  auto second = t.sys_a.spawn<pong_catcher>(volley::props{.name = "catcher"}, &t.seen);
  second.tell(send_ping{remote, 2});
  seen_frame ping2;
  REQUIRE(t.b.next(frame_kind::message, ping2));
  CHECK(ping2.sender_path.starts_with("/user/catcher#"));
  CHECK(ping2.sender_path != ping1.sender_path);
  CHECK(int_payload(ping2) == 2);

  // Replies to both, the stopped one's first: it reaches nobody, not the successor.
  t.b.send(int_message(3, ping1.sender_path, "/user/collector", 100));
  t.b.send(int_message(3, ping2.sender_path, "/user/collector", 200));
  REQUIRE(t.seen.wait([&] { return t.seen.pongs_caught == 1; }));
  t.seen.with_lock([&] { CHECK(t.seen.last_pong == 200); });
  CHECK(t.sys_a.dead_letters().count(volley::dead_letter_reason::recipient_stopped) == 1);
  // Nor does the bare path reach it: only the incarnation given out is exposed.
  t.b.send(int_message(3, "/user/catcher", "/user/collector", 300));

  // A watch of the stopped incarnation is answered at once, though its path is taken.
  frame watch;
  watch.kind = frame_kind::watch;
  watch.target_path = ping1.sender_path;
  watch.sender_path = "/system/watcher-1";
  t.b.send(watch);
  seen_frame gone;
  REQUIRE(t.b.next(frame_kind::terminated, gone));
  CHECK(gone.target == "/system/watcher-1");
  CHECK(gone.sender_path == ping1.sender_path);
  // A watch of the live one is answered when it stops, with the path it watched.
  watch.target_path = ping2.sender_path;
  watch.sender_path = "/system/watcher-2";
  t.b.send(watch);
  // Frames are handled in order: once this reply is in, the watch is placed.
  t.b.send(int_message(3, ping2.sender_path, "/user/collector", 400));
  REQUIRE(t.seen.wait([&] { return t.seen.pongs_caught == 2; }));
  t.seen.with_lock([&] { CHECK(t.seen.last_pong == 400); });
  CHECK(t.node_a.stats().refused_messages == 1);  // the bare path's
  second.stop();
  REQUIRE(t.b.next(frame_kind::terminated, gone));
  CHECK(gone.target == "/system/watcher-2");
  CHECK(gone.sender_path == ping2.sender_path);
}

TEST_CASE(
    "a sender's name opens it to the peer it wrote to only: a third node that is told the name "
    "reaches nothing",
    "[remote][node][security]") {
  // B relays the incarnation name A's actor gave it to C, another node that
  // knows the secret. The name is exposed on A's link to B, not on A: C's
  // message, ask and watch get what a missing actor gets, while B still
  // reaches the actor through the same name.
  real_a_fake_b t;

  auto catcher = t.sys_a.spawn<pong_catcher>(volley::props{.name = "catcher"}, &t.seen);
  catcher.tell(send_ping{t.to_b.select("/user/collector"), 1});
  seen_frame ping;
  REQUIRE(t.b.next(frame_kind::message, ping));
  const std::string name = ping.sender_path;
  REQUIRE(name.starts_with("/user/catcher#"));

  raw_peer c(t.node_a.port());
  REQUIRE(c.handshake_as("node-c", "test-secret"));
  // A frame's paths and payload point here.
  const std::string relay = "/user/relay";
  const int told = 666, asked = 667, answered = 100;
  c.send_frame(int_message(3, name, relay, told));
  frame ask = int_message(2, name, relay, asked);
  ask.kind = frame_kind::ask_request;
  ask.correlation_id = 0xc0ffee;
  c.send_frame(ask);
  frame watch;
  watch.kind = frame_kind::watch;
  watch.target_path = name;
  watch.sender_path = "/system/relay-watcher";
  c.send_frame(watch);

  // Frames are handled in order: the ask's failure comes before the watch's
  // answer, and both after the message was refused.
  raw_peer::received got;
  auto next_but_heartbeats = [&] {
    do {
      REQUIRE(c.next_frame(got));
    } while (got.kind == frame_kind::heartbeat);
  };
  next_but_heartbeats();
  REQUIRE(got.kind == frame_kind::ask_failure);
  CHECK(got.correlation_id == 0xc0ffee);
  std::string text(reinterpret_cast<const char*>(got.payload.data()), got.payload.size());
  CHECK(text.starts_with("recipient stopped: "));
  next_but_heartbeats();
  CHECK(got.kind == frame_kind::terminated);  // at once: the catcher is alive
  CHECK_FALSE(catcher.is_stopped());
  CHECK(t.node_a.stats().refused_messages == 3);

  // The peer the name was given to still reaches the actor with it.
  t.b.send(int_message(3, name, "/user/collector", answered));
  REQUIRE(t.seen.wait([&] { return t.seen.pongs_caught == 1; }));
  t.seen.with_lock([&] { CHECK(t.seen.last_pong == answered); });
}

namespace {
struct release {};
/// Keeps the sender of each ping and answers them all on `release`.
struct late_replier {
  using accepts = volley::accepts<ping>;
  struct kept {
    std::mutex mu;
    std::vector<volley::any_ref> senders;
    std::size_t size() {
      std::lock_guard lock(mu);
      return senders.size();
    }
    volley::any_ref at(std::size_t i) {
      std::lock_guard lock(mu);
      return senders.at(i);
    }
  };
  explicit late_replier(kept* k) : k(k) {}
  void on(ping, volley::context& ctx) {
    std::lock_guard lock(k->mu);
    k->senders.push_back(ctx.sender());
  }
  void on(release, volley::context& ctx) {
    std::lock_guard lock(k->mu);
    int n = 0;
    for (auto& s : k->senders) s.tell(pong{++n}, ctx);
  }
  kept* k;
};
}  // namespace

TEST_CASE("a terminated notice stops only the proxy of the incarnation it names",
          "[remote][node][security]") {
  // B's half of the successor race, in the order that lost the reply: the
  // successor's first message arrives before the notice that its
  // predecessor stopped. Each incarnation has its own proxy, and the notice
  // stops the old one only.
  late_replier::kept kept;  // before the system: its actor points here
  volley::system sys_b{system_config()};
  node node_b(sys_b, node_config_for("node-b"), test_types());
  auto replier = sys_b.spawn<late_replier>(volley::props{.name = "collector"}, &kept);
  fake_node a("node-a", 0xa0a);
  remote_system to_a = node_b.connect("127.0.0.1", a.port());
  REQUIRE(a.accept_and_handshake());
  REQUIRE(to_a.wait_up(patience));

  a.send(int_message(2, "/user/collector", "/user/catcher#7", 1));
  seen_frame watch1;
  REQUIRE(a.next(frame_kind::watch, watch1));  // B's proxy watches the sender
  CHECK(watch1.target == "/user/catcher#7");
  a.send(int_message(2, "/user/collector", "/user/catcher#8", 2));
  seen_frame watch2;
  REQUIRE(a.next(frame_kind::watch, watch2));
  CHECK(watch2.target == "/user/catcher#8");
  CHECK(watch2.sender_path != watch1.sender_path);

  frame stopped;
  stopped.kind = frame_kind::terminated;
  stopped.target_path = watch1.sender_path;
  stopped.sender_path = "/user/catcher#7";
  a.send(stopped);
  REQUIRE(poll_until([&] { return kept.size() == 2 && kept.at(0).is_stopped(); }));
  volley::any_ref successor = kept.at(1);
  CHECK_FALSE(successor.is_stopped());
  CHECK(successor.path() == "remote://node-a/user/catcher");  // shown without the serial

  replier.tell(release{});
  seen_frame reply;
  REQUIRE(a.next(frame_kind::message, reply));
  CHECK(reply.target == "/user/catcher#8");
  CHECK(int_payload(reply) == 2);
  REQUIRE(poll_until([&] { return sys_b.dead_letters().count() == 1; }));  // the one to #7
  CHECK(sys_b.dead_letters().count(volley::dead_letter_reason::recipient_stopped) == 1);
  std::lock_guard lock(kept.mu);
  kept.senders.clear();  // the refs go before the system does
}

TEST_CASE("a path's incarnation is a serial or nothing: anything else names no actor",
          "[remote][node][security]") {
  using volley::remote::detail::select_incarnation;
  using volley::remote::detail::split_incarnation;
  auto serial_of = [](std::string_view p) -> long long {
    auto s = split_incarnation(p);
    return s ? static_cast<long long>(s->serial) : -1;
  };
  CHECK(serial_of("/user/a") == 0);
  CHECK(serial_of("/user/a#12") == 12);
  CHECK(split_incarnation("/user/a#12")->path == "/user/a");
  CHECK(split_incarnation("/user/a#18446744073709551615")->serial == ~std::uint64_t{0});
  for (const char* bad : {"/user/a#", "/user/a#0", "/user/a#012", "/user/a#1x", "/user/a#-1",
                          "/user/a#18446744073709551616", "/user/a#99999999999999999999",
                          "/user/a#123456789012345678901", "/user/a#1#2", "/user/a#1/b"})
    CHECK(serial_of(bad) == -1);

  seen_state seen;  // before the system: its actor points here
  volley::system sys{system_config()};
  auto a = sys.spawn<pong_catcher>(volley::props{.name = "a"}, &seen);
  CHECK(select_incarnation(sys, "/user/a") == a);  // no incarnation: whoever is there
  // Never a remote sender: it has no serial yet, so no incarnation names it.
  CHECK_FALSE(select_incarnation(sys, "/user/a#1"));
  const std::string& mine = a.cell()->stable_path().qualified;
  CHECK(select_incarnation(sys, mine) == a);
  std::uint64_t serial = a.cell()->stable_path().serial;
  CHECK(mine == "/user/a#" + std::to_string(serial));
  CHECK_FALSE(select_incarnation(sys, "/user/a#" + std::to_string(serial + 1)));
  CHECK_FALSE(select_incarnation(sys, "/user/a#" + std::to_string(serial) + "0"));
}
