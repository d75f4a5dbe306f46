// remote_bench — what remote::node moves between two actor systems, next to
// raw loopback TCP measured in the same run. caf_remote_bench.cpp measures
// the same two workloads on CAF 0.17's io module.
//
//   one-way:   N tells of a 16-byte message through a remote any_ref (the
//              sending thread serialises and queues each, A's loop, TCP,
//              B's loop, the receiving actor on system B), counted by the
//              receiver; msg/s from the first tell to the last message
//              received. The sender keeps at most `window` messages in
//              flight (it reads the receiver's count: both systems live in
//              this process), so it never meets the connection's outbound
//              bound (past it a tell is dropped) and nothing is lost.
//   one-way from an actor: the same, each tell naming an actor of system A
//              ("/user/bench-sender-0", past the 15-char small-string
//              buffer) as its sender, as a handler's tell does: the sender's
//              path goes into every frame, A notes it as exposed to B, and
//              B's loop finds the sender's proxy per frame. Figures
//              one_way_actor_sender(_cpu); --actor-sender runs it.
//   one-way from a worker: the same tells made by a handler on A's worker
//              (64 per local message the sending thread tells it), so the
//              frames go through a worker's send stage, flushed when its
//              activation ends (remote/src/transport_stage.cpp). Figures
//              one_way_worker_sender(_cpu); --worker-sender runs it.
//   RTT:       ask<reply>(request) round trips from a plain thread, one at a
//              time, p50/p99/p99.9; once with the loops sleeping in
//              io_uring_enter, once with busy_poll on the asking node A
//              (on both, two spinning loops leave this 2-core box no core
//              for the workers and the asking thread: p50 was ~4 ms, a
//              scheduler quantum). Each mode once more with inline handlers
//              on both nodes (node_config::inline_handlers: B's loop runs
//              the receiver's handler and sends the reply itself): figures
//              rtt_inline_*, rtt_busy_poll_inline_*. With inline handlers
//              once more with B's loop polling too (rtt_busy_poll_both_
//              inline_*): B's loop is then the answering thread, as raw
//              busy-poll's echo thread is, and spins as raw's echo does;
//              in rtt_busy_poll_inline it sleeps and every ask wakes it.
//              In every RTT row the asking thread writes its request, and
//              B's worker (or inline loop) its reply, to the socket itself
//              (transport_settings::direct_writes, on by default), except
//              on a busy-polling node, whose loop sends what it is handed.
//   actor RTT: ping-pong between an actor on A and the receiver on B (a tell
//              with its sender, answered by a tell to ctx.sender()), the
//              twin of raw ping-pong between two threads; default and
//              busy-poll (both loops spin, as both raw threads do), each
//              without and with inline handlers: actor_rtt_*,
//              actor_rtt_busy_poll_*, actor_rtt_inline_*,
//              actor_rtt_busy_poll_inline_*.
//   reply spin: the default-mode RTT and actor RTT again with
//              transport_settings::reply_spin (50 us by default) on both
//              nodes, 50 us or --reply-spin-us=N: rtt_reply_spin_*,
//              actor_rtt_reply_spin_*.
//   raw TCP:   one thread writes frames of the same wire size in 48 KiB
//              batches, another reads them (the ceiling of the loopback);
//              and a blocking ping-pong between two threads.
//
//   TLS:       one-way and the plain-thread RTTs again with TLS 1.3 on both
//              nodes (certificates made at start, as the tests make them);
//              figures tls_one_way, tls_rtt_*, tls_rtt_busy_poll_*, and
//              with inline handlers tls_rtt_inline_*,
//              tls_rtt_busy_poll_inline_*. --no-tls skips them.
//   raw busy-poll: the blocking ping-pong with both threads spinning on
//              MSG_DONTWAIT instead of sleeping in recv (rtt_busy_poll of
//              impl "raw"): the floor under volley's busy-poll RTT.
//
// Usage: remote_bench [messages=2000000] [round_trips=20000] [all|volley|raw] [--no-tls]
//        [--actor-sender] [--worker-sender] [--reply-spin-us=N] [--only=NAME,NAME...]
//        [--no-runs]
// --only runs the named rows alone, by figure base name (one_way, rtt,
// rtt_busy_poll_inline, actor_rtt_reply_spin, tls_rtt, ...; raw_rtt and
// raw_rtt_busy_poll for the raw round trips, raw_one_way): for perf and
// A/B runs of one round trip. --no-runs stages every tell in an item of its
// own, as before runs (remote/src/transport_stage.cpp, "Runs"): both sides
// of that A/B from one binary.
// Prints a table, then one JSON object per figure on lines starting with '{'.
#include <volley/remote/frame_codec.hpp>
#include <volley/remote/node.hpp>
#include <volley/volley.hpp>

#include "loopback.hpp"
#include "test_certificates.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using bench_clock = std::chrono::steady_clock;

namespace volley::remote::detail {
/// remote/src/transport_stage.cpp: 0 the rule (runs), 1 an item per tell.
extern std::atomic<int> run_variant;
}  // namespace volley::remote::detail
using volley::remote::bench::percentile;
using volley::remote::bench::raw_pair;
using volley::remote::bench::read_all;
using volley::remote::bench::write_all;

namespace {

// -- figures ---------------------------------------------------------------------------

std::vector<std::string> g_json;

/// --only's names; empty: every row.
std::vector<std::string> g_only;

/// Whether the row named `base` runs (--only).
bool wanted(const std::string& base) {
  return g_only.empty() || std::find(g_only.begin(), g_only.end(), base) != g_only.end();
}

void figure(const char* impl, const char* name, double value, const char* unit) {
  char line[256];
  std::snprintf(line, sizeof line,
                "{\"bench\":\"remote\",\"impl\":\"%s\",\"figure\":\"%s\",\"value\":%.3f,"
                "\"unit\":\"%s\"}",
                impl, name, value, unit);
  g_json.emplace_back(line);
}

/// What a run of round trips cost the whole process, per round trip:
/// context switches (voluntary and not) and CPU time. Load-robust evidence
/// beside a round trip's wall time (each hand-off to a sleeping thread is a
/// switch; a spin that wins wall time shows here what it burns).
struct usage_per_trip {
  double switches = 0;
  double cpu_us = 0;
};

/// The process's switches and CPU time since construction.
struct process_usage {
  rusage at{};
  double cpu0 = volley::remote::bench::process_cpu_seconds();
  process_usage() { getrusage(RUSAGE_SELF, &at); }
  usage_per_trip per(std::size_t n) const {
    rusage now{};
    getrusage(RUSAGE_SELF, &now);
    double csw = static_cast<double>((now.ru_nvcsw - at.ru_nvcsw) + (now.ru_nivcsw - at.ru_nivcsw));
    double cpu = volley::remote::bench::process_cpu_seconds() - cpu0;
    return {csw / static_cast<double>(n), cpu * 1e6 / static_cast<double>(n)};
  }
};

/// `base` names the figures: rtt, rtt_busy_poll, tls_rtt, ... (+ _p50/_p99/
/// _p99.9, and _switches/_cpu per round trip).
void report_rtt(const char* impl, const char* label, const std::string& base,
                const std::vector<double>& us, usage_per_trip usage) {
  double p50 = percentile(us, 0.50), p99 = percentile(us, 0.99), p999 = percentile(us, 0.999);
  std::printf(
      "%-30s RTT p50 %8.1f us   p99 %8.1f us   p99.9 %8.1f us   (%zu round trips)   %.2f "
      "switches, %.1f CPU-us per round trip\n",
      label, p50, p99, p999, us.size(), usage.switches, usage.cpu_us);
  figure(impl, (base + "_p50").c_str(), p50, "us");
  figure(impl, (base + "_p99").c_str(), p99, "us");
  figure(impl, (base + "_p99.9").c_str(), p999, "us");
  figure(impl, (base + "_switches").c_str(), usage.switches, "per round trip");
  figure(impl, (base + "_cpu").c_str(), usage.cpu_us, "CPU-us per round trip");
}

// -- volley ----------------------------------------------------------------------------

struct sample {  ///< the one-way message: 16 bytes of payload
  std::uint64_t seq;
  std::uint64_t pad;
};
struct request {
  std::uint64_t seq;
  std::uint64_t pad;
};
struct reply {
  std::uint64_t seq;
  std::uint64_t pad;
};
struct ping_msg {  ///< actor-to-actor RTT: told with its sender, answered by a pong_msg tell
  std::uint64_t seq;
  std::uint64_t pad;
};
struct pong_msg {
  std::uint64_t seq;
  std::uint64_t pad;
};

volley::remote::message_types bench_types() {
  volley::remote::message_types t;
  t.add<sample>(1, "sample").add<request>(2, "request").add<reply>(3, "reply");
  t.add<ping_msg>(4, "ping").add<pong_msg>(5, "pong");
  t.add_ask<request, reply>();
  return t;
}

/// Counts samples; the count is read by the sending thread (its credit).
struct receiver_actor {
  using accepts = volley::accepts<sample, request, ping_msg>;
  struct shared {
    std::atomic<std::uint64_t> received{0};
    std::uint64_t target = 0;
    std::atomic<std::int64_t> last_ns{0};  ///< when `target` was reached
  };
  explicit receiver_actor(shared* s) : s_(s) {}

  void on(sample) {
    std::uint64_t n = ++count_;
    // release: the sender's acquire load sees a count no larger than what arrived.
    s_->received.store(n, std::memory_order_release);
    if (n == s_->target) s_->last_ns.store(bench_clock::now().time_since_epoch().count());
  }
  reply on(request r) { return reply{r.seq, r.pad}; }
  void on(ping_msg p, volley::context& ctx) { ctx.sender().tell(pong_msg{p.seq, p.pad}, ctx); }

  shared* s_;
  std::uint64_t count_ = 0;
};

volley::config system_config() {
  volley::config c;
  // Two systems share the machine with two io_uring loops and the sending
  // thread; one worker each is what a 2-core box can run without the
  // systems' workers preempting the loops (two each measured slower here).
  c.workers = 1;
  c.pin = false;
  return c;
}

/// Set while the TLS workloads run: the certificates of bench-a and bench-b,
/// signed by one CA, made at start as the tests make them.
struct bench_pki {
  volley::remote::testing::test_pki pki;
  volley::remote::testing::issued ca = pki.make_ca("bench-ca");
  volley::remote::testing::issued a = pki.make_node(ca, "bench-a");
  volley::remote::testing::issued b = pki.make_node(ca, "bench-b");
};
const bench_pki* tls_pki = nullptr;
/// The window of the *_reply_spin_* round trips (transport_settings::
/// reply_spin on both nodes; the other runs turn it off):
/// 50 us, a wake-up of an idle vCPU on the reference VM; --reply-spin-us=N
/// sets it.
std::chrono::microseconds reply_spin_window{50};

/// How a round trip's two nodes run: which loop spins, and whether the
/// loops run idle actors' handlers themselves (node_config::inline_handlers,
/// on both nodes). The default: both loops sleep, workers run every handler.
struct node_modes {
  bool busy_a = false;
  bool busy_b = false;
  bool inline_handlers = false;
  /// transport_settings::reply_spin on both nodes; 0: off (the default is on).
  std::chrono::microseconds reply_spin{0};
};

volley::remote::node_config node_config(const char* name, bool busy_poll, node_modes m) {
  volley::remote::node_config c;
  if (tls_pki) {
    c.transport.tls = volley::remote::testing::test_pki::config(
        std::string(name) == "bench-a" ? tls_pki->a : tls_pki->b, tls_pki->ca);
  }
  c.name = name;
  c.secret = "bench-secret";
  c.transport.busy_poll = busy_poll;
  c.transport.reply_spin = m.reply_spin;
  c.inline_handlers = m.inline_handlers;
  c.access.allowed_paths = {"/user/receiver"};  // remote peers reach nothing unlisted
  // Room for the whole window (below) so the bound never drops a message.
  c.transport.max_queued_frames = 1u << 20;
  return c;
}

/// At most this many samples in flight: enough for the loops to batch
/// thousands of frames per sendmsg, and well under the outbound bound.
constexpr std::uint64_t window = 256 * 1024;
/// How often the sender looks at the receiver's count (see the loop).
constexpr std::uint64_t window_check = 1024;

struct two_nodes {
  receiver_actor::shared shared;
  volley::system sys_a{system_config()};
  volley::system sys_b{system_config()};
  volley::actor_ref<receiver_actor> receiver =
      sys_b.spawn<receiver_actor>(volley::props{.name = "receiver"}, &shared);
  volley::remote::node node_a;
  volley::remote::node node_b;
  volley::remote::remote_system to_b;
  volley::any_ref remote;

  explicit two_nodes(node_modes m = {})
      : node_a(sys_a, node_config("bench-a", m.busy_a, m), bench_types()),
        node_b(sys_b, node_config("bench-b", m.busy_b, m), bench_types()),
        to_b(node_a.connect("127.0.0.1", node_b.port())) {
    if (!to_b.wait_up(10s)) {
      std::fprintf(stderr, "remote_bench: the nodes did not connect\n");
      std::exit(1);
    }
    remote = to_b.select("/user/receiver");
  }
};

/// The named sender of the one-way run from an actor; takes nothing.
struct sender_actor {
  void on(reply) {}
};

/// The one-way run's sender on a worker: each send_batch makes its handler
/// tell `count` samples, numbered from `first`, with itself as the sender.
struct send_batch {
  std::uint64_t first;
  std::uint64_t count;
};
struct worker_sender_actor {
  explicit worker_sender_actor(volley::any_ref target) : target_(std::move(target)) {}
  void on(send_batch b, volley::context& ctx) {
    for (std::uint64_t i = 0; i < b.count; ++i) target_.tell(sample{b.first + i, 0}, ctx);
  }
  volley::any_ref target_;
};
/// Samples per send_batch: divides window_check, so the window is checked
/// as in the other one-way runs.
constexpr std::uint64_t worker_batch = 64;

/// Who sends the one-way run's tells.
enum class one_way_sender { thread, thread_as_actor, worker };

void volley_one_way(std::uint64_t messages, one_way_sender by = one_way_sender::thread) {
  const bool from_actor = by == one_way_sender::thread_as_actor;
  const bool from_worker = by == one_way_sender::worker;
  if (!wanted(from_worker  ? "one_way_worker_sender"
              : from_actor ? "one_way_actor_sender"
                           : (tls_pki ? "tls_one_way" : "one_way")))
    return;
  two_nodes t;
  t.shared.target = messages;
  // Warm-up: one ask, so the connection, the proxy and the watch are in place.
  if (!t.remote.ask<reply>(request{0, 0}).get(10s)) std::exit(1);
  volley::actor_ref<sender_actor> sender;
  std::optional<volley::context> as_sender;
  if (from_actor) {
    sender = t.sys_a.spawn<sender_actor>(volley::props{.name = "bench-sender-0"});
    // A context names the sender of a tell; this thread sends as that actor.
    as_sender.emplace(sender.cell());
  }
  volley::actor_ref<worker_sender_actor> on_worker;
  if (from_worker) {
    on_worker =
        t.sys_a.spawn<worker_sender_actor>(volley::props{.name = "bench-sender-0"}, t.remote);
  }
  const std::uint64_t wakeups0 = t.node_a.stats().transport.wakeups;
  process_usage usage;
  double cpu0 = volley::remote::bench::process_cpu_seconds();
  auto start = bench_clock::now();
  for (std::uint64_t i = 0; i < messages; ++i) {
    // The receiver's count is read once per window_check tells, not per
    // tell: its line would otherwise move between the receiving worker and
    // this thread once per message (3-4% of a profile, and not volley's).
    while (i % window_check == 0 &&
           i - t.shared.received.load(std::memory_order_acquire) >= window - window_check) {
      std::this_thread::sleep_for(50us);  // not a spin: the box has two cores for five threads
    }
    if (from_worker) {
      if (i % worker_batch == 0)
        on_worker.tell(send_batch{i, std::min(worker_batch, messages - i)});
    } else if (as_sender) {
      t.remote.tell(sample{i, 0}, *as_sender);
    } else {
      t.remote.tell(sample{i, 0});
    }
  }
  while (t.shared.last_ns.load() == 0) std::this_thread::sleep_for(1ms);
  auto last = bench_clock::time_point(bench_clock::duration(t.shared.last_ns.load()));
  double secs = std::chrono::duration<double>(last - start).count();
  // Up to 1 ms late (the poll above): under 1% of a run of a million messages.
  double cpu_ns =
      (volley::remote::bench::process_cpu_seconds() - cpu0) * 1e9 / static_cast<double>(messages);
  auto stats = t.node_a.stats();
  double rate = static_cast<double>(messages) / secs / 1e6;
  // Per 1000 messages: the process's context switches and the eventfd
  // writes that woke A's loop (the wake-ups a stream should not need).
  const double per_k = 1000.0 / static_cast<double>(messages);
  const double switches_per_k = usage.per(1).switches * per_k;
  const double wakeups_per_k = static_cast<double>(stats.transport.wakeups - wakeups0) * per_k;
  std::printf(
      "%-20s %9.2f M msg/s   %6.0f CPU-ns/msg   (%llu messages, %.3f s, %.0f frames per sendmsg, "
      "%.2f switches and %.2f loop wake-ups per 1000, dead letters %llu)\n",
      from_worker  ? "volley worker one-way"
      : from_actor ? "volley actor one-way"
                   : (tls_pki ? "volley TLS one-way" : "volley one-way"),
      rate, cpu_ns, static_cast<unsigned long long>(messages), secs,
      static_cast<double>(stats.transport.frames_sent) /
          static_cast<double>(std::max<std::uint64_t>(1, stats.transport.send_calls)),
      switches_per_k, wakeups_per_k,
      static_cast<unsigned long long>(t.sys_a.dead_letters().count() +
                                      t.sys_b.dead_letters().count()));
  if (from_worker) {
    figure("volley", "one_way_worker_sender", rate, "M msg/s");
    figure("volley", "one_way_worker_sender_cpu", cpu_ns, "CPU-ns/msg");
    return;
  }
  if (from_actor) {
    figure("volley", "one_way_actor_sender", rate, "M msg/s");
    figure("volley", "one_way_actor_sender_cpu", cpu_ns, "CPU-ns/msg");
    return;
  }
  figure("volley", tls_pki ? "tls_one_way" : "one_way", rate, "M msg/s");
  figure("volley", tls_pki ? "tls_one_way_cpu" : "one_way_cpu", cpu_ns, "CPU-ns/msg");
}

/// The figures' base name and the table's label for a round trip run in
/// mode `m` ("actor_" for actor-to-actor): rtt, rtt_busy_poll_inline,
/// tls_actor_rtt, ...
std::pair<std::string, std::string> rtt_names(const char* kind, node_modes m) {
  bool busy = m.busy_a || m.busy_b;
  bool spin = m.reply_spin.count() > 0;
  // A plain thread's ask with both loops polling (actor to actor always polls both).
  bool both = *kind == 0 && m.busy_a && m.busy_b;
  std::string base = std::string(tls_pki ? "tls_" : "") + kind + "rtt" +
                     (busy ? "_busy_poll" : "") + (both ? "_both" : "") +
                     (m.inline_handlers ? "_inline" : "") + (spin ? "_reply_spin" : "");
  std::string label = std::string("volley") + (tls_pki ? " TLS" : "") +
                      (*kind != 0 ? " actor" : "") + (busy ? " busy-poll" : "") +
                      (both ? " both" : "") + (m.inline_handlers ? " inline" : "") +
                      (spin ? " reply-spin" : "");
  return {base, label};
}

/// Plain-thread asks: busy-poll spins A's loop only (the asker's side); on
/// both, two spinning loops leave a 2-core box no core for B's worker and
/// the asking thread (p50 ~4 ms, a scheduler quantum).
void volley_rtt(std::size_t round_trips, node_modes m) {
  auto [base, label] = rtt_names("", m);
  if (!wanted(base)) return;
  two_nodes t(m);
  std::size_t total = round_trips + round_trips / 10;  // the first 10% warm up
  std::vector<double> us;
  us.reserve(total);
  std::optional<process_usage> usage;
  for (std::size_t i = 0; i < total; ++i) {
    if (i == round_trips / 10) usage.emplace();
    auto t0 = bench_clock::now();
    auto r = t.remote.ask<reply>(request{i, 0}).get(10s);
    auto t1 = bench_clock::now();
    if (!r || r.value().seq != i) {
      std::fprintf(stderr, "remote_bench: ask %zu failed\n", i);
      std::exit(1);
    }
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  us.erase(us.begin(), us.begin() + static_cast<std::ptrdiff_t>(round_trips / 10));
  report_rtt("volley", label.c_str(), base, us, usage->per(us.size()));
}

/// Actor-to-actor round trips: an actor on A tells ping_msg to the receiver
/// on B with itself as the sender, the receiver tells pong_msg back through
/// ctx.sender(), and the pong's handler sends the next ping. The twin of
/// raw ping-pong between two threads: no plain thread in the path, and with
/// inline handlers on both nodes a round trip is loop -> TCP -> loop -> TCP.
struct pinger_actor {
  using accepts = volley::accepts<pong_msg>;
  struct start {};
  struct shared {
    volley::any_ref remote;
    std::size_t total = 0;
    std::vector<double> us;
    std::promise<void> done;
  };
  explicit pinger_actor(shared* s) : s_(s) {}

  void on(start, volley::context& ctx) { send(ctx); }
  void on(pong_msg p, volley::context& ctx) {
    auto now = bench_clock::now();
    if (p.seq != s_->us.size()) {
      std::fprintf(stderr, "remote_bench: pong %llu out of order\n",
                   static_cast<unsigned long long>(p.seq));
      std::exit(1);
    }
    s_->us.push_back(std::chrono::duration<double, std::micro>(now - sent_).count());
    if (s_->us.size() == s_->total) {
      s_->done.set_value();
    } else {
      send(ctx);
    }
  }
  void send(volley::context& ctx) {
    sent_ = bench_clock::now();
    s_->remote.tell(ping_msg{s_->us.size(), 0}, ctx);
  }

  shared* s_;
  bench_clock::time_point sent_{};
};

void volley_actor_rtt(std::size_t round_trips, node_modes m) {
  auto [base, label] = rtt_names("actor_", m);
  if (!wanted(base)) return;
  two_nodes t(m);
  // Warm-up: one ask, so the connection, the proxy and the watch are in place.
  if (!t.remote.ask<reply>(request{0, 0}).get(10s)) std::exit(1);
  pinger_actor::shared s;
  s.remote = t.remote;
  s.total = round_trips + round_trips / 10;  // the first 10% warm up
  s.us.reserve(s.total);
  auto done = s.done.get_future();
  auto pinger = t.sys_a.spawn<pinger_actor>(volley::props{.name = "bench-pinger"}, &s);
  process_usage usage;  // warm-up included: a tenth of the round trips
  pinger.tell(pinger_actor::start{});
  if (done.wait_for(120s) != std::future_status::ready) {
    std::fprintf(stderr, "remote_bench: actor round trips did not finish\n");
    std::exit(1);
  }
  s.us.erase(s.us.begin(), s.us.begin() + static_cast<std::ptrdiff_t>(round_trips / 10));
  report_rtt("volley", label.c_str(), base, s.us, usage.per(s.total));
}

// -- raw loopback TCP ----------------------------------------------------------------------

/// The wire size of one sample as the transport frames it (header + 16 bytes).
std::size_t wire_frame_size() {
  std::array<std::byte, sizeof(sample)> payload{};
  volley::remote::frame f;
  f.kind = volley::remote::frame_kind::message;
  f.flags = volley::remote::flag_target_id;
  f.target_id = 1;
  f.type_marker = 1;
  f.payload = payload;
  return volley::remote::encoded_size(f);
}

void raw_one_way(std::uint64_t messages) {
  if (!wanted("raw_one_way")) return;
  raw_pair p;
  const std::size_t frame_size = wire_frame_size();
  // 1024 frames per send(): ~48 KiB, the size of the batches volley's loop
  // gathers under load, and past the point where larger writes stop helping.
  constexpr std::size_t batch = 1024;
  std::vector<char> buf(batch * frame_size, 'x');
  std::uint64_t total = messages * frame_size;
  auto start = bench_clock::now();
  std::thread reader([&] {
    std::vector<char> in(64 * 1024);
    std::uint64_t got = 0;
    while (got < total) {
      ssize_t r = ::recv(p.server, in.data(), in.size(), 0);
      if (r <= 0) break;
      got += static_cast<std::uint64_t>(r);
    }
  });
  for (std::uint64_t sent = 0; sent < messages; sent += batch) {
    std::uint64_t n = std::min<std::uint64_t>(batch, messages - sent);
    write_all(p.client, buf.data(), n * frame_size);
  }
  reader.join();
  double secs = std::chrono::duration<double>(bench_clock::now() - start).count();
  double rate = static_cast<double>(messages) / secs / 1e6;
  std::printf("%-20s %9.2f M msg/s   (%zu-byte frames, %zu per send(), %.3f s)\n",
              "raw TCP one-way", rate, frame_size, batch, secs);
  figure("raw", "one_way_batched", rate, "M msg/s");
}

/// Blocking, or (spin) both threads polling with MSG_DONTWAIT: the floors
/// under volley's default and busy_poll round trips.
void raw_rtt(std::size_t round_trips, bool spin) {
  if (!wanted(spin ? "raw_rtt_busy_poll" : "raw_rtt")) return;
  raw_pair p;
  auto put = spin ? volley::remote::bench::write_all_spin : write_all;
  auto get = spin ? volley::remote::bench::read_all_spin : read_all;
  const std::size_t frame_size = wire_frame_size();
  std::size_t total = round_trips + round_trips / 10;
  std::thread echo([&] {
    std::vector<char> in(frame_size);
    for (std::size_t i = 0; i < total; ++i) {
      if (!get(p.server, in.data(), in.size()) || !put(p.server, in.data(), in.size())) return;
    }
  });
  std::vector<char> msg(frame_size, 'x');
  std::vector<double> us;
  us.reserve(total);
  process_usage usage;  // warm-up included: a tenth of the round trips
  for (std::size_t i = 0; i < total; ++i) {
    auto t0 = bench_clock::now();
    put(p.client, msg.data(), msg.size());
    get(p.client, msg.data(), msg.size());
    us.push_back(std::chrono::duration<double, std::micro>(bench_clock::now() - t0).count());
  }
  echo.join();
  us.erase(us.begin(), us.begin() + static_cast<std::ptrdiff_t>(round_trips / 10));
  report_rtt("raw", spin ? "raw TCP busy-poll" : "raw TCP blocking", spin ? "rtt_busy_poll" : "rtt",
             us, usage.per(total));
}

/// Prints the command line and returns `status` for main to exit with.
int usage(int status) {
  std::fprintf(status == 0 ? stdout : stderr,
               "usage: remote_bench [MESSAGES [ROUND_TRIPS [all|volley|raw]]] [--no-tls]\n"
               "                    [--actor-sender] [--worker-sender] [--only=ROW,...]\n"
               "                    [--reply-spin-us=N] [--no-runs]\n"
               "  MESSAGES     one-way messages (default 2000000)\n"
               "  ROUND_TRIPS  round trips per RTT row (default 20000)\n"
               "  --only=      run only these rows (one_way, rtt, raw_rtt, tls_one_way, ...)\n"
               "  --no-runs    a staged tell in an item of its own (A/B of the runs)\n");
  return status;
}

/// `text` as a positive count, or nullopt when it is not one.
std::optional<std::uint64_t> positive_count(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || text[0] == '-' || *end != '\0' || errno != 0 || value == 0)
    return std::nullopt;
  return value;
}

/// Runs the rows the command line chose and prints their figures.
int run(std::uint64_t messages, std::size_t round_trips, const std::string& which, bool with_tls,
        bool actor_sender, bool worker_sender) {
  bool volley = which != "raw", raw = which != "volley";
  std::printf("remote_bench: two nodes in one process over loopback (%u hardware threads)\n",
              std::thread::hardware_concurrency());
  if (volley) volley_one_way(messages);
  if (volley && actor_sender) volley_one_way(messages, one_way_sender::thread_as_actor);
  if (volley && worker_sender) volley_one_way(messages, one_way_sender::worker);
  // Ten times as many: the raw path is ~10x faster and needs the time to settle.
  if (raw) raw_one_way(messages * 10);
  // A tenth as many busy-poll round trips: on a 2-core box each can cost a
  // scheduler tick (see above), and the percentiles settle long before.
  const std::size_t busy_trips = std::max<std::size_t>(round_trips / 10, 100);
  if (volley) {
    for (bool inline_handlers : {false, true}) {
      volley_rtt(round_trips, {.inline_handlers = inline_handlers});
      volley_rtt(busy_trips, {.busy_a = true, .inline_handlers = inline_handlers});
    }
    // With inline handlers B's loop answers: polled, it spins as raw
    // busy-poll's echo thread does (without them B's worker answers, and a
    // polling B would leave it no core).
    volley_rtt(busy_trips, {.busy_a = true, .busy_b = true, .inline_handlers = true});
    // Actor to actor. Busy-poll spins both loops, as raw busy-poll spins
    // both threads: with inline handlers they are the only threads in the
    // path; without, B's and A's workers compete with them for two cores.
    for (bool inline_handlers : {false, true}) {
      volley_actor_rtt(round_trips, {.inline_handlers = inline_handlers});
      volley_actor_rtt(busy_trips,
                       {.busy_a = true, .busy_b = true, .inline_handlers = inline_handlers});
    }
    // The loops' spin for the answer (transport_settings::reply_spin, on by
    // default; every other row here turns it off): the default-mode round
    // trips again with it on, so that a run shows what it gains or costs on
    // the machine at hand.
    volley_rtt(round_trips, {.reply_spin = reply_spin_window});
    volley_actor_rtt(round_trips, {.reply_spin = reply_spin_window});
  }
  if (raw) raw_rtt(round_trips, false);
  if (raw) raw_rtt(std::max<std::size_t>(round_trips / 10, 100), true);
  if (volley && with_tls) {
    bench_pki pki;
    tls_pki = &pki;
    volley_one_way(messages);
    for (bool inline_handlers : {false, true}) {
      volley_rtt(round_trips, {.inline_handlers = inline_handlers});
      volley_rtt(busy_trips, {.busy_a = true, .inline_handlers = inline_handlers});
    }
    tls_pki = nullptr;
  }
  for (const auto& j : g_json) std::printf("%s\n", j.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool with_tls = true;
  bool actor_sender = false;
  bool worker_sender = false;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--no-tls") {
      with_tls = false;
    } else if (std::string(argv[i]) == "--actor-sender") {
      actor_sender = true;
    } else if (std::string(argv[i]) == "--worker-sender") {
      worker_sender = true;
    } else if (std::string(argv[i]) == "--no-runs") {
      volley::remote::detail::run_variant = 1;
    } else if (std::string(argv[i]).rfind("--only=", 0) == 0) {
      std::string list = argv[i] + 7;
      for (std::size_t at = 0; at <= list.size();) {
        std::size_t comma = std::min(list.find(',', at), list.size());
        g_only.push_back(list.substr(at, comma - at));
        at = comma + 1;
      }
    } else if (std::string(argv[i]).rfind("--reply-spin-us=", 0) == 0) {
      reply_spin_window = std::chrono::microseconds(std::strtoll(argv[i] + 16, nullptr, 10));
    } else if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      return usage(0);
    } else if (argv[i][0] == '-') {
      std::fprintf(stderr, "remote_bench: unknown option '%s'\n", argv[i]);
      return usage(2);
    } else {
      args.emplace_back(argv[i]);
    }
  }
  if (args.size() > 3) return usage(2);
  std::optional<std::uint64_t> messages = 2'000'000, round_trips = 20'000;
  if (args.size() > 0) messages = positive_count(args[0]);
  if (args.size() > 1) round_trips = positive_count(args[1]);
  std::string which = args.size() > 2 ? args[2] : "all";
  if (!messages || !round_trips || (which != "all" && which != "volley" && which != "raw")) {
    std::fprintf(stderr,
                 "remote_bench: MESSAGES and ROUND_TRIPS must be positive counts and "
                 "the third argument all, volley or raw\n");
    return usage(2);
  }
  return run(*messages, *round_trips, which, with_tls, actor_sender, worker_sender);
}
