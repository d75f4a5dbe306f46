// remote::node: two actor systems in one process, each with its own node on
// 127.0.0.1, talking through proxies exactly as through local any_refs.
#include "node_test_support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace volley::remote::test;
using namespace std::chrono_literals;
using volley::remote::node;

TEST_CASE("tells arrive, all of them, in each sender's order", "[remote][node]") {
  two_nodes t;
  volley::any_ref remote = t.to_b.select("/user/collector");
  // Two senders into the same proxy: the test thread, and an actor on A
  // (whose messages carry it as the sender).
  constexpr std::uint64_t per_sender = 10'000;
  auto pusher = t.sys_a.spawn<pusher_actor>();
  pusher.tell(push{remote, 1, per_sender});
  for (std::uint64_t i = 0; i < per_sender; ++i) remote.tell(numbered{0, i});
  REQUIRE(t.seen.wait([&] { return t.seen.numbered_count == 2 * per_sender; }));
  t.seen.with_lock([&] {
    CHECK_FALSE(t.seen.out_of_order);
    CHECK(t.seen.next[0] == per_sender);
    CHECK(t.seen.next[1] == per_sender);
    CHECK(t.seen.senders_seen_for_1 == per_sender);  // every one of the actor's had a sender
  });
  CHECK(t.sys_b.dead_letters().count() == 0);
  CHECK(t.node_a.stats().messages_sent == 2 * per_sender + 0);
}

TEST_CASE("ask gets the remote actor's reply; a void handler replies unit", "[remote][node]") {
  two_nodes t;
  volley::any_ref remote = t.to_b.select("/user/collector");
  auto r = remote.ask<pong>(ping{41}).get(patience);
  REQUIRE(r.ok());
  CHECK(r.value().n == 42);
  auto u = remote.ask<volley::unit>(numbered{7, 0}).get(patience);
  CHECK(u.ok());
  // Many asks in flight at once, each answered with its own reply.
  std::vector<volley::future<pong>> futures;
  for (int i = 0; i < 1000; ++i) futures.push_back(remote.ask<pong>(ping{i}));
  for (int i = 0; i < 1000; ++i) {
    auto ri = futures[static_cast<std::size_t>(i)].get(patience);
    REQUIRE(ri.ok());
    CHECK(ri.value().n == i + 1);
  }
  CHECK(t.node_a.stats().pending_asks == 0);
}

TEST_CASE("a non-trivially-copyable message crosses with its own serializer", "[remote][node]") {
  two_nodes t;
  volley::any_ref remote = t.to_b.select("/user/collector");
  std::string long_text(10'000, 'x');
  remote.tell(text{long_text});
  auto r = remote.ask<text>(text{"hello"}).get(patience);
  REQUIRE(r.ok());
  CHECK(r.value().s == "hello, back");
  REQUIRE(t.seen.wait([&] { return !t.seen.texts.empty(); }));
  t.seen.with_lock([&] { CHECK(t.seen.texts.front() == long_text); });
}

TEST_CASE("an ask the remote actor never answers times out; errors come back with their code",
          "[remote][node]") {
  two_nodes t;
  volley::any_ref remote = t.to_b.select("/user/collector");
  auto held = remote.ask<int>(hold{});  // stashed over there: no reply, ever
  auto r = held.get(100ms);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == volley::errc::timeout);

  // No such actor on B: the proxy is stopped by B's watch at once, or the
  // ask comes back recipient_stopped, whichever is first.
  auto nobody = t.to_b.select("/user/nobody").ask<pong>(ping{1}).get(patience);
  REQUIRE_FALSE(nobody.ok());
  CHECK(nobody.err().code == volley::errc::recipient_stopped);

  // The handler throws over there: handler_failed here, with its text.
  auto boom = remote.ask<pong>(ping{-1}).get(patience);
  REQUIRE_FALSE(boom.ok());
  CHECK(boom.err().code == volley::errc::handler_failed);
  CHECK(boom.err().message.find("negative ping") != std::string::npos);
}

TEST_CASE("unknown or unregistered types become dead letters with reason remote_failure",
          "[remote][node]") {
  two_nodes t;
  dead_letter_log at_a(t.sys_a), at_b(t.sys_b);
  volley::any_ref remote = t.to_b.select("/user/collector");

  // Registered on A only: B sees an unknown marker.
  remote.tell(only_on_a{5});
  REQUIRE(at_b.wait_for(volley::dead_letter_reason::remote_failure, 1));
  CHECK(at_b.last_type().find("unknown type marker") != std::string::npos);
  auto asked = remote.ask<pong>(only_on_a{6}).get(patience);
  REQUIRE_FALSE(asked.ok());
  CHECK(asked.err().code == volley::errc::unhandled);

  // Registered nowhere: refused at A before anything is sent.
  remote.tell(unregistered{});
  REQUIRE(at_a.wait_for(volley::dead_letter_reason::remote_failure, 1));
  CHECK(at_a.last_recipient() == "remote://node-b/user/collector");
  auto r = remote.ask<pong>(unregistered{}).get(patience);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == volley::errc::unhandled);

  // The connection survived all that.
  CHECK(remote.ask<pong>(ping{1}).get(patience).ok());
}

TEST_CASE("a tell through a proxy is encoded from the caller's object, which stays the caller's",
          "[remote][node]") {
  // An any_ref's tell to a proxy makes no envelope (proxy::on_tell): the
  // frame is encoded from the object the caller passed, of either kind of
  // registration, and the accounting is that of the envelope path.
  two_nodes t;
  dead_letter_log at_a(t.sys_a);
  volley::any_ref remote = t.to_b.select("/user/collector");
  const std::string long_text(300, 'q');  // on the heap: a copy or a move would show
  text mine{long_text};
  const text constant{"constant"};
  remote.tell(mine);
  remote.tell(constant);
  remote.tell(text{"temporary"});
  CHECK(mine.s == long_text);
  CHECK(constant.s == "constant");
  REQUIRE(t.seen.wait([&] { return t.seen.texts.size() == 3; }));
  t.seen.with_lock([&] {
    CHECK(t.seen.texts[0] == long_text);
    CHECK(t.seen.texts[1] == "constant");
    CHECK(t.seen.texts[2] == "temporary");
  });
  numbered n{3, 0};
  for (; n.n < 100; ++n.n) remote.tell(n);
  REQUIRE(t.seen.wait([&] { return t.seen.numbered_count == 100; }));
  t.seen.with_lock([&] { CHECK_FALSE(t.seen.out_of_order); });

  // Refused at A (its serializer throws): a dead letter with the reason,
  // counted as a failure and not as sent, and nothing reaches B.
  remote.tell(balky{"no"});
  REQUIRE(at_a.wait_for(volley::dead_letter_reason::remote_failure, 1));
  CHECK(at_a.last_type().find("balky") != std::string::npos);
  CHECK(at_a.last_recipient() == "remote://node-b/user/collector");
  auto s = t.node_a.stats();
  CHECK(s.messages_sent == 103);
  CHECK(s.send_failures == 1);
  CHECK(t.sys_a.dead_letters().count() == 1);
  CHECK(remote.ask<pong>(ping{1}).get(patience).ok());
  CHECK(t.sys_b.dead_letters().count() == 0);
}

TEST_CASE("the receiver replies through the remote sender ref", "[remote][node]") {
  two_nodes t;
  auto asker = t.sys_a.spawn<pong_catcher>(volley::props{.name = "catcher"}, &t.seen);
  asker.tell(send_ping{t.to_b.select("/user/collector"), 9});
  REQUIRE(t.seen.wait([&] { return t.seen.pongs_caught == 1; }));
  t.seen.with_lock([&] { CHECK(t.seen.last_pong == 10); });
}

namespace {
struct idle_sender {
  void on(pong) {}
};
}  // namespace

TEST_CASE("threads sending as one actor at once name it alike and expose it once",
          "[remote][node]") {
  // Several threads meet the same sender cell at once (a router forwarding
  // with the original sender does): the first ones race to make its path
  // record, each notes it as exposed on its own thread, and the link must
  // still hold it once.
  two_nodes t;
  volley::any_ref remote = t.to_b.select("/user/collector");
  auto shared = t.sys_a.spawn<idle_sender>(volley::props{.name = "one-sender-many-threads"});
  constexpr int threads = 4;
  constexpr std::uint64_t per_thread = 2'000;
  std::atomic<int> ready{0};
  std::vector<std::thread> senders;
  for (int k = 0; k < threads; ++k) {
    senders.emplace_back([&, k] {
      volley::context as_shared(shared.cell());  // tells name `shared` as their sender
      ready.fetch_add(1);
      while (ready.load() < threads) std::this_thread::yield();
      for (std::uint64_t i = 0; i < per_thread; ++i)
        remote.tell(numbered{static_cast<std::uint32_t>(k + 1), i}, as_shared);
    });
  }
  for (auto& s : senders) s.join();
  REQUIRE(t.seen.wait([&] { return t.seen.numbered_count == threads * per_thread; }));
  t.seen.with_lock([&] {
    CHECK_FALSE(t.seen.out_of_order);
    for (int k = 1; k <= threads; ++k) CHECK(t.seen.next[k] == per_thread);
    CHECK(t.seen.senders_seen_for_1 == per_thread);
  });
  CHECK(t.node_a.stats().exposed_senders == 1);
  CHECK(t.sys_b.dead_letters().count() == 0);
}

TEST_CASE("a stopped sender's successor, at its path or another, is named and answered as itself",
          "[remote][node]") {
  // Both nodes cache what they learnt of a sender: A its path and that its
  // peer was given it, B its proxy, and A the ref each reply's path resolves
  // to. A sender that stops and a successor at the same path must not get
  // the old one's proxy (stopped: the reply would be a dead letter) nor its
  // ref; one at another path must be named by its own.
  two_nodes t;
  volley::any_ref remote = t.to_b.select("/user/collector");
  constexpr int rounds = 12;
  for (int r = 0; r < rounds; ++r) {
    // The first half share one path (past the 15-char small-string buffer).
    std::string name = "catcher-of-pongs" + (r < rounds / 2 ? "" : "-" + std::to_string(r));
    auto catcher = t.sys_a.spawn<pong_catcher>(volley::props{.name = name}, &t.seen);
    catcher.tell(send_ping{remote, 10 * r});
    REQUIRE(t.seen.wait([&] { return t.seen.pongs_caught == r + 1; }));
    t.seen.with_lock([&] {
      CHECK(t.seen.last_pong == 10 * r + 1);
      CHECK(t.seen.ping_sender_path == "remote://node-a/user/" + name);
    });
    catcher.stop();
    // Gone from the tree, so that its name is free for the next round.
    REQUIRE(poll_until([&] { return !t.sys_a.select("/user/" + name); }));
  }
}

TEST_CASE("a remote ref's path names the remote actor, at both ends and in terminated",
          "[remote][node]") {
  two_nodes t;
  volley::any_ref remote = t.to_b.select("/user/collector");
  CHECK(remote.path() == "remote://node-b/user/collector");
  // The sender B sees for a ping from A's actor names that actor on A.
  auto asker = t.sys_a.spawn<pong_catcher>(volley::props{.name = "catcher"}, &t.seen);
  asker.tell(send_ping{remote, 1});
  REQUIRE(t.seen.wait([&] { return t.seen.pongs_caught == 1; }));
  t.seen.with_lock([&] { CHECK(t.seen.ping_sender_path == "remote://node-a/user/catcher"); });
  // A watcher of the remote actor learns which remote actor died.
  auto w = t.sys_a.spawn<watcher_actor>(&t.seen);
  w.tell(watch_this{remote});
  REQUIRE(remote.ask<pong>(ping{1}).get(patience).ok());  // the watch is in place
  t.collector.stop();
  REQUIRE(t.seen.wait([&] { return t.seen.terminations == 1; }));
  t.seen.with_lock([&] {
    REQUIRE(t.seen.terminated_paths.size() == 1);
    CHECK(t.seen.terminated_paths[0] == "remote://node-b/user/collector");
  });
}

TEST_CASE("a node with the wrong secret: the refusing side logs that it rejected the proof",
          "[remote][node]") {
  log_lines log_a, log_c;
  volley::system sys_a{system_config()}, sys_c{system_config()};
  auto cfg_a = node_config_for("node-a");
  cfg_a.log = log_a.sink();
  auto cfg_c = node_config_for("node-c");
  cfg_c.secret = "not-the-secret";
  cfg_c.log = log_c.sink();
  node a(sys_a, cfg_a, test_types());
  node c(sys_c, cfg_c, test_types());
  auto to_a = c.connect("127.0.0.1", a.port());
  // The acceptor checks the caller's proof first (protocol 2), so A refuses;
  // C only hears of it. Neither may blame the other for its own check.
  REQUIRE(poll_until(
      [&] { return log_a.has("this node (node-a) rejected the proof of initiator 'node-c'"); }));
  REQUIRE(poll_until([&] { return log_c.has("rejected by peer 'node-a'"); }));
  CHECK_FALSE(log_c.has("this node (node-c) rejected"));
  CHECK_FALSE(to_a.is_up());
  to_a.disconnect();
}

TEST_CASE("watching a remote actor: its stop reaches the watcher", "[remote][node]") {
  two_nodes t;
  volley::any_ref remote = t.to_b.select("/user/collector");
  REQUIRE(remote.ask<pong>(ping{1}).get(patience).ok());  // the watch frame went first
  auto w = t.sys_a.spawn<watcher_actor>(&t.seen);
  w.tell(watch_this{remote});
  t.collector.stop();
  REQUIRE(t.seen.wait([&] { return t.seen.terminations == 1; }));
  CHECK(remote.is_stopped());
}

TEST_CASE(
    "node down: pending asks fail with node_down, watchers hear of it, and a restarted "
    "node is reached again with fresh refs",
    "[remote][node]") {
  two_nodes t;
  volley::any_ref remote = t.to_b.select("/user/collector");
  REQUIRE(remote.ask<pong>(ping{1}).get(patience).ok());
  auto w = t.sys_a.spawn<watcher_actor>(&t.seen);
  w.tell(watch_this{remote});
  auto held = remote.ask<int>(hold{});
  REQUIRE(poll_until([&] { return t.node_a.stats().pending_asks == 1; }));
  std::uint64_t first_incarnation = t.to_b.peer_incarnation();
  std::uint16_t port = t.node_b->port();

  t.node_b.reset();  // node B goes away (its actor system stays)
  auto r = held.get(patience);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == volley::errc::node_down);
  REQUIRE(t.seen.wait([&] { return t.seen.terminations == 1; }));
  CHECK(t.seen.wait([&] {
    return !t.seen.reasons.empty() &&
           t.seen.reasons.back() == volley::termination_reason::node_down;
  }));
  CHECK(remote.is_stopped());
  CHECK_FALSE(t.to_b.is_up());

  // A new node on the same port: A's connection comes back by itself.
  auto cfg = node_config_for("node-b");
  cfg.port = port;
  t.node_b = std::make_unique<node>(t.sys_b, cfg, test_types());
  REQUIRE(t.to_b.wait_up(patience));
  CHECK(t.to_b.peer_incarnation() != first_incarnation);
  volley::any_ref again = t.to_b.select("/user/collector");
  CHECK_FALSE(again == remote);
  auto r2 = again.ask<pong>(ping{5}).get(patience);
  REQUIRE(r2.ok());
  CHECK(r2.value().n == 6);
  CHECK(remote.is_stopped());  // old refs stay dead
}

TEST_CASE("tells queued for a node that restarts become dead letters, not mail for the new one",
          "[remote][node]") {
  two_nodes t;
  dead_letter_log at_a(t.sys_a);
  std::uint16_t port = t.node_b->port();
  t.node_b.reset();
  REQUIRE(poll_until([&] { return !t.to_b.is_up(); }));
  // Selected and told during the gap: meant for the node-b that was.
  volley::any_ref during = t.to_b.select("/user/collector");
  constexpr int told = 5;
  for (int i = 0; i < told; ++i) during.tell(numbered{3, static_cast<std::uint64_t>(i)});
  REQUIRE(poll_until([&] { return t.node_a.stats().messages_sent >= told; }));

  auto cfg = node_config_for("node-b");
  cfg.port = port;
  t.node_b = std::make_unique<node>(t.sys_b, cfg, test_types());
  REQUIRE(t.to_b.wait_up(patience));
  REQUIRE(at_a.wait_for(volley::dead_letter_reason::node_restarted, told));
  // A fresh ref's round trip: anything sent before it on the connection
  // would have arrived first.
  REQUIRE(t.to_b.select("/user/collector").ask<pong>(ping{1}).get(patience).ok());
  t.seen.with_lock([&] { CHECK(t.seen.numbered_count == 0); });
  auto s = t.node_a.stats().transport;
  CHECK(s.frames_queued == s.frames_sent + s.frames_undelivered + s.frames_fate_unknown);
}

TEST_CASE("disconnecting fails pending asks and stops the proxies for good", "[remote][node]") {
  two_nodes t;
  volley::any_ref remote = t.to_b.select("/user/collector");
  REQUIRE(remote.ask<pong>(ping{1}).get(patience).ok());
  auto held = remote.ask<int>(hold{});
  REQUIRE(poll_until([&] { return t.node_a.stats().pending_asks == 1; }));
  t.to_b.disconnect();
  auto r = held.get(patience);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == volley::errc::node_down);
  REQUIRE(poll_until([&] { return remote.is_stopped(); }));
  CHECK_THROWS_AS(t.to_b.select("/user/collector"), std::logic_error);
}

TEST_CASE("message_types refuses reserved markers, duplicates and asks of unknown types",
          "[remote][node]") {
  volley::remote::message_types types;
  CHECK_THROWS_AS(types.add<ping>(volley::remote::unit_marker - 1, "ping"), std::logic_error);
  types.add<ping>(2, "ping");
  CHECK_THROWS_AS(types.add<pong>(2, "pong"), std::logic_error);
  CHECK_THROWS_AS((types.add_ask<ping, pong>()), std::logic_error);
  types.add<pong>(3, "pong").add_ask<ping, pong>();
  const auto* e = types.find(volley::type_id<ping>());
  REQUIRE(e != nullptr);
  CHECK(e->wire.marker == 2);
  CHECK(e->ask_for(volley::type_id<pong>()) != nullptr);
  CHECK(types.find_marker(volley::remote::unit_marker) != nullptr);
}

namespace {
/// Records how many numbered messages arrived and whether their n ever went
/// down (a gap is allowed; a reorder is not).
struct increasing_collector {
  using accepts = volley::accepts<numbered>;
  explicit increasing_collector(std::atomic<std::uint64_t>* handled, std::atomic<bool>* reordered)
      : handled_(handled), reordered_(reordered) {}
  void on(numbered m) {
    if (any_ && m.n <= last_) reordered_->store(true);
    any_ = true;
    last_ = m.n;
    handled_->fetch_add(1);
  }
  std::atomic<std::uint64_t>* handled_;
  std::atomic<bool>* reordered_;
  bool any_ = false;
  std::uint64_t last_ = 0;
};
}  // namespace

TEST_CASE("a sender faster than its link loses the overflow to dead letters, never its order",
          "[remote][node]") {
  // A tell to a remote ref is serialised on the sender's thread and queued on
  // the transport at once (proxy.cpp): past max_queued_frames the message is
  // dead-lettered (remote_failure) instead of waiting in a proxy's mailbox.
  std::atomic<std::uint64_t> handled{0};
  std::atomic<bool> reordered{false};
  volley::system sys_a{system_config()}, sys_b{system_config()};
  auto collector =
      sys_b.spawn<increasing_collector>(volley::props{.name = "collector"}, &handled, &reordered);
  std::atomic<std::uint64_t> dead{0};
  auto sub = sys_a.dead_letters().subscribe([&](const volley::dead_letter& d) {
    if (d.type.find("numbered") != std::string::npos &&
        d.reason == volley::dead_letter_reason::remote_failure)
      dead.fetch_add(1);
  });
  auto config_a = node_config_for("node-a");
  config_a.transport.max_queued_frames = 16;
  node node_b(sys_b, node_config_for("node-b"), test_types());
  node node_a(sys_a, config_a, test_types());
  auto to_b = node_a.connect("127.0.0.1", node_b.port());
  REQUIRE(to_b.wait_up(patience));
  volley::any_ref remote = to_b.select("/user/collector");
  constexpr std::uint64_t told = 20'000;
  for (std::uint64_t i = 0; i < told; ++i) remote.tell(numbered{0, i});
  REQUIRE(poll_until([&] { return handled.load() + dead.load() == told; }));
  CHECK(dead.load() > 0);
  CHECK_FALSE(reordered.load());
  auto s = node_a.stats();
  CHECK(s.messages_sent == handled.load());
  CHECK(s.send_failures == dead.load());
}
