// Messages, actors and a two-node fixture for the remote::node tests.
#pragma once

#include "test_support.hpp"

#include <volley/remote/node.hpp>
#include <volley/volley.hpp>

#include <array>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace volley::remote::test {

// -- messages -----------------------------------------------------------------------

struct numbered {
  std::uint32_t sender;
  std::uint64_t n;
};
struct ping {
  int n;
};
struct pong {
  int n;
};
struct text {
  std::string s;
};
struct hold {};  ///< an ask the collector stashes and never answers
struct only_on_a {
  int x;
};
struct unregistered {};
/// Registered on A with a serializer that throws: a tell of it is refused at A.
struct balky {
  std::string s;
};
struct tally {};  ///< ask<std::uint64_t>: numbered messages seen, or 0 if any came out of order

inline void write_text(const text& t, std::vector<std::byte>& out) {
  auto bytes = std::as_bytes(std::span(t.s.data(), t.s.size()));
  out.insert(out.end(), bytes.begin(), bytes.end());
}
inline text read_text(std::span<const std::byte> in) {
  return text{std::string(reinterpret_cast<const char*>(in.data()), in.size())};
}

inline message_types test_types() {
  message_types types;
  types.add<numbered>(1, "numbered")
      .add<ping>(2, "ping")
      .add<pong>(3, "pong")
      .add<text>(4, "text", &write_text, &read_text)
      .add<hold>(5, "hold")
      .add<int>(6, "int")
      .add<tally>(7, "tally")
      .add<std::uint64_t>(8, "u64")
      .add_ask<tally, std::uint64_t>()
      .add_ask<numbered, volley::unit>()
      .add_ask<ping, pong>()
      .add_ask<text, text>()
      .add_ask<hold, int>();
  return types;
}

inline void write_balky(const balky&, std::vector<std::byte>&) {
  throw std::runtime_error("balky will not go");
}
inline balky read_balky(std::span<const std::byte>) {
  return {};
}

/// A's types: B's plus two that B does not know.
inline message_types types_for_a() {
  message_types types = test_types();
  types.add<only_on_a>(99, "only_on_a").add_ask<only_on_a, pong>();
  types.add<balky>(98, "balky", &write_balky, &read_balky);
  return types;
}

// -- what the actors saw ---------------------------------------------------------------

struct seen_state {
  std::uint64_t numbered_count = 0;
  std::array<std::uint64_t, 8> next{};
  bool out_of_order = false;
  std::uint64_t senders_seen_for_1 = 0;
  std::vector<std::string> texts;
  int pongs_caught = 0;
  int last_pong = 0;
  int terminations = 0;
  std::vector<volley::termination_reason> reasons;
  std::vector<std::string> terminated_paths;  ///< terminated.actor.path() of each
  std::string ping_sender_path;               ///< ctx.sender().path() of the last ping

  template <class F>
  void update(F f) {
    std::lock_guard lock(m_);
    f();
    cv_.notify_all();
  }
  template <class F>
  void with_lock(F f) {
    std::lock_guard lock(m_);
    f();
  }
  template <class Pred>
  bool wait(Pred pred) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, patience, pred);
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
};

// -- actors --------------------------------------------------------------------------

struct collector_actor {
  using accepts = volley::accepts<numbered, ping, text, hold, tally>;
  explicit collector_actor(seen_state* s) : seen(s) {}

  void on(numbered m, volley::context& ctx) {
    seen->update([&] {
      auto& expected = seen->next[m.sender % seen->next.size()];
      if (m.n != expected) seen->out_of_order = true;
      expected = m.n + 1;
      ++seen->numbered_count;
      if (m.sender == 1 && ctx.sender()) ++seen->senders_seen_for_1;
    });
  }
  pong on(ping p, volley::context& ctx) {
    if (p.n < 0) throw std::runtime_error("negative ping");
    seen->update([&] { seen->ping_sender_path = ctx.sender().path(); });
    // Told with a sender: answer it (across the wire when it is remote).
    if (ctx.sender()) ctx.sender().tell(pong{p.n + 1}, ctx);
    return pong{p.n + 1};
  }
  text on(text t) {
    seen->update([&] { seen->texts.push_back(t.s); });
    return text{t.s + ", back"};
  }
  std::uint64_t on(tally) {
    std::uint64_t n = 0;
    seen->with_lock([&] { n = seen->out_of_order ? 0 : seen->numbered_count; });
    return n;
  }
  int on(hold, volley::context& ctx) {
    ctx.stash();  // keeps the request: nobody answers it while we live
    return 0;
  }

  seen_state* seen;
};

struct push {
  volley::any_ref target;
  std::uint32_t sender;
  std::uint64_t count;
};
struct pusher_actor {
  void on(push p, volley::context& ctx) {
    for (std::uint64_t i = 0; i < p.count; ++i) p.target.tell(numbered{p.sender, i}, ctx);
  }
};

struct send_ping {
  volley::any_ref target;
  int n;
};
struct pong_catcher {
  using accepts = volley::accepts<pong>;
  explicit pong_catcher(seen_state* s) : seen(s) {}
  void on(send_ping s, volley::context& ctx) { s.target.tell(ping{s.n}, ctx); }
  void on(pong p) {
    seen->update([&] {
      ++seen->pongs_caught;
      seen->last_pong = p.n;
    });
  }
  seen_state* seen;
};

struct watch_this {
  volley::any_ref target;
};
struct watcher_actor {
  explicit watcher_actor(seen_state* s) : seen(s) {}
  void on(watch_this w, volley::context& ctx) { ctx.watch(w.target); }
  void on(const volley::terminated& t) {
    seen->update([&] {
      ++seen->terminations;
      seen->reasons.push_back(t.reason);
      seen->terminated_paths.push_back(t.actor.path());
    });
  }
  seen_state* seen;
};

// -- fixture -------------------------------------------------------------------------

inline volley::config system_config() {
  volley::config c;
  c.workers = 2;
  c.pin = false;  // tests share the machine
  return c;
}

inline node_config node_config_for(std::string name) {
  node_config c;
  c.name = std::move(name);
  c.secret = "test-secret";
  c.transport.reconnect_min_backoff = std::chrono::milliseconds(20);
  c.transport.reconnect_max_backoff = std::chrono::milliseconds(200);
  c.log = [](log_level, std::string_view) {};    // keep test output quiet
  c.access.allowed_paths = {"/user/collector"};  // what the tests' peers reach by path
  return c;
}

/// For nodes in separate processes: heartbeats every 100 ms and a silence
/// of about a second and a half declared down, so the failure-detector test
/// is quick; a second of tolerated pause keeps a loaded sanitizer build from
/// false alarms.
inline node_config peer_node_config(std::string name) {
  node_config c = node_config_for(std::move(name));
  c.transport.heartbeat_interval = std::chrono::milliseconds(100);
  c.transport.phi.acceptable_pause = std::chrono::milliseconds(1000);
  c.transport.phi.min_std_deviation = std::chrono::milliseconds(50);
  return c;
}

/// Two systems, each with a node given its config (node_config_for plus the
/// transport or node setting a test is about); A is connected to B; B runs
/// /user/collector. Members are declared so that nodes go before their
/// systems, and the shared state last; B is held by pointer so that a test
/// can stop it.
struct configured_nodes {
  seen_state seen;
  volley::system sys_a{system_config()};
  volley::system sys_b{system_config()};
  // Spawned before the nodes start their threads. (Spawned later, TSan sees
  // no order between the spawn's last writes and B's loop thread reaching
  // the actor: the real order runs through a TCP socket, which TSan does not
  // follow; and attach_cell writes `started_` after publishing the cell.)
  volley::actor_ref<collector_actor> collector =
      sys_b.spawn<collector_actor>(volley::props{.name = "collector"}, &seen);
  node node_a;
  std::unique_ptr<node> node_b;
  remote_system to_b;

  configured_nodes(node_config a, node_config b)
      : node_a(sys_a, std::move(a), types_for_a()),
        node_b(std::make_unique<node>(sys_b, std::move(b), test_types())),
        to_b(node_a.connect("127.0.0.1", node_b->port())) {
    if (!to_b.wait_up(patience)) throw std::runtime_error("node-a could not reach node-b");
  }
};

/// configured_nodes with the default test configs.
struct two_nodes : configured_nodes {
  two_nodes() : configured_nodes(node_config_for("node-a"), node_config_for("node-b")) {}
};

/// After two nodes connected to each other at once: waits until they keep
/// one connection between them (PROTOCOL.md §6.6), so that a test sends
/// nothing on a connection that is about to give way (its frames in flight
/// could be lost: at most once). False after `patience`.
inline bool one_association(const node& a, const node& b) {
  return poll_until([&] {
    auto sa = a.stats().transport, sb = b.stats().transport;
    return sa.established_connections == 1 && sb.established_connections == 1 &&
           sa.inbound_connections + sb.inbound_connections == 1 && sa.pending_handshakes == 0 &&
           sb.pending_handshakes == 0;
  });
}

/// Records a system's dead letters.
class dead_letter_log {
 public:
  explicit dead_letter_log(volley::system& sys)
      : sub_(sys.dead_letters().subscribe([this](const volley::dead_letter& d) {
          std::lock_guard lock(m_);
          letters_.push_back(d);
          cv_.notify_all();
        })) {}

  bool wait_for(volley::dead_letter_reason reason, std::size_t n) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, patience, [&] {
      std::size_t k = 0;
      for (const auto& d : letters_) k += d.reason == reason;
      return k >= n;
    });
  }
  std::string last_type() {
    std::lock_guard lock(m_);
    return letters_.empty() ? std::string() : letters_.back().type;
  }
  std::string last_recipient() {
    std::lock_guard lock(m_);
    return letters_.empty() ? std::string() : letters_.back().recipient;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<volley::dead_letter> letters_;
  volley::dead_letters::subscription sub_;
};

}  // namespace volley::remote::test
