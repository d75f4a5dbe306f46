// remote_transport_bench — what one volley transport connection moves, next to
// a plain blocking TCP socket measured in the same run on the same machine.
//
//   one-way:   N frames with a 16-byte payload from node B to node A over one
//              loopback connection; msg/s from the first send to the last
//              frame received.
//   ping-pong: a frame goes A -> B -> A; the round trip is timed on A's loop
//              thread (the next ping leaves from the handler), p50/p99/p99.9.
//              Once with the loop sleeping in io_uring_enter between events,
//              once with busy_poll (the loop spins).
//   raw TCP:   the same workloads over plain sockets: one blocking send()
//              per frame (what a naive transport does) and 1024 frames per
//              send() (the loopback's ceiling); a blocking ping-pong between
//              two threads, and one where both threads spin on MSG_DONTWAIT
//              (what busy_poll is measured against).
//
//   --tls:     also the one-way and the ping-pong workloads with TLS 1.3 on
//              (certificates made at start, as the tests make them), printed
//              next to the plaintext figures of the same run.
//
// Release build, 2-core VM at load ~15, `3000000 5000 all --tls`, three runs
// interleaved with a build of the parent of this round's transport changes
// (medians; before -> after): one-way 1.62 -> 2.34 M msg/s, 192 -> 130
// CPU-ns/msg (raw 1024-frame send(): 25 CPU-ns/msg, wall 6-41 M/s with the
// load); RTT p50 8.6 -> 8.8 us (raw blocking 6.6 / 6.6); busy-poll RTT p50
// 8.2 -> 8.1 us (raw busy-poll 6.7 / 6.9; with the idle spin's yield added
// after these runs: 10.7-11.0 us, p99 19-29 us instead of 1-16 ms); TLS
// one-way 1.20 -> 1.39 M msg/s (229 -> 197 CPU-ns/msg), TLS RTT p50 11.8 ->
// 11.6 us.
//
// Usage: remote_transport_bench [messages=5000000] [round_trips=50000] [all|volley|raw] [--tls]
//                               [--only=orb]  (o: one-way, r: RTT, b: busy-poll RTT; default all)
// It is a benchmark, not a test: it prints figures and checks only counts.
#include <volley/remote/transport.hpp>

#include "loopback.hpp"
#include "test_certificates.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace volley::remote;
using bench_clock = std::chrono::steady_clock;
using volley::remote::bench::percentile;
using volley::remote::bench::raw_pair;
using volley::remote::bench::read_all;
using volley::remote::bench::write_all;

namespace {

constexpr std::size_t payload_size = 16;

/// Set by --tls: the certificates of bench-a and bench-b, signed by one CA.
struct bench_pki {
  volley::remote::testing::test_pki pki;
  volley::remote::testing::issued ca = pki.make_ca("bench-ca");
  volley::remote::testing::issued a = pki.make_node(ca, "bench-a");
  volley::remote::testing::issued b = pki.make_node(ca, "bench-b");
};
const bench_pki* tls_pki = nullptr;  // non-null while a TLS workload runs

transport_config node_config(const std::string& name, bool busy_poll) {
  transport_config c;
  if (tls_pki) {
    c.tls = volley::remote::testing::test_pki::config(name == "bench-a" ? tls_pki->a : tls_pki->b,
                                                      tls_pki->ca);
  }
  c.node_name = name;
  c.secret = "bench-secret";
  c.busy_poll = busy_poll;
  c.log = [](log_level l, std::string_view s) {
    if (l >= log_level::warning)
      std::fprintf(stderr, "%.*s\n", static_cast<int>(s.size()), s.data());
  };
  return c;
}

frame bench_frame(std::span<const std::byte> payload, std::uint64_t seq) {
  frame f;
  f.kind = frame_kind::message;
  f.flags = flag_target_id;
  f.target_id = 1;
  f.type_marker = 42;
  f.correlation_id = seq;
  f.payload = payload;
  return f;
}

struct waiter {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  void notify() {
    std::lock_guard l(m);
    done = true;
    cv.notify_all();
  }
  void wait() {
    std::unique_lock l(m);
    cv.wait(l, [&] { return done; });
  }
};

struct up_handler : transport_handler {
  waiter up;
  void on_up(const peer_info&, std::uint64_t) override { up.notify(); }
  void on_frame(const peer_info&, const frame&) override {}
};

// -- one-way -----------------------------------------------------------------------

struct counting_handler : transport_handler {
  std::uint64_t expected = 0;
  std::atomic<std::uint64_t> received{0};
  bool in_order = true;
  bench_clock::time_point last{};
  waiter all;
  void on_frame(const peer_info&, const frame& f) override {
    std::uint64_t n = received.load(std::memory_order_relaxed);
    if (f.correlation_id != n) in_order = false;
    received.store(n + 1, std::memory_order_relaxed);
    if (n + 1 == expected) {
      last = bench_clock::now();
      all.notify();
    }
  }
};

void one_way(std::uint64_t messages) {
  counting_handler ha;
  ha.expected = messages;
  up_handler hb;
  transport a(node_config("bench-a", false), ha);
  transport b(node_config("bench-b", false), hb);
  connection_id id = b.connect("127.0.0.1", a.port());
  hb.up.wait();
  std::array<std::byte, payload_size> payload{};
  std::uint64_t full = 0;
  double cpu0 = volley::remote::bench::process_cpu_seconds();
  auto start = bench_clock::now();
  for (std::uint64_t i = 0; i < messages; ++i) {
    frame f = bench_frame(payload, i);
    while (b.send(id, f) != send_result::queued) {
      ++full;
      std::this_thread::yield();
    }
  }
  ha.all.wait();
  double cpu_ns =
      (volley::remote::bench::process_cpu_seconds() - cpu0) * 1e9 / static_cast<double>(messages);
  double secs = std::chrono::duration<double>(ha.last - start).count();
  transport_stats s = b.stats();
  std::printf(
      "%-16s %9.2f M msg/s  %6.0f CPU-ns/msg  (%llu frames of %zu B payload / %zu B on the "
      "wire, %.3f s, "
      "%.0f frames per sendmsg, %llu eventfd wake-ups, %llu queue-full retries, in order: %s)\n",
      tls_pki ? "volley TLS 1-way" : "volley one-way", static_cast<double>(messages) / secs / 1e6,
      cpu_ns, static_cast<unsigned long long>(messages), payload_size,
      encoded_size(bench_frame(payload, 0)), secs,
      static_cast<double>(s.frames_sent) /
          static_cast<double>(std::max<std::uint64_t>(1, s.send_calls)),
      static_cast<unsigned long long>(s.wakeups), static_cast<unsigned long long>(full),
      ha.in_order ? "yes" : "NO");
}

// -- ping-pong -----------------------------------------------------------------------

struct echo_handler : transport_handler {
  transport* self = nullptr;
  void on_frame(const peer_info& peer, const frame& f) override { self->send(peer.id, f); }
};

struct pinger : transport_handler {
  transport* self = nullptr;
  connection_id id = 0;
  std::size_t target = 0;
  std::vector<double> rtt_us;
  bench_clock::time_point sent{};
  std::array<std::byte, payload_size> payload{};
  waiter up, finished;
  void on_up(const peer_info&, std::uint64_t) override { up.notify(); }
  void ping() {
    sent = bench_clock::now();
    self->send(id, bench_frame(payload, rtt_us.size()));
  }
  void on_frame(const peer_info&, const frame&) override {
    rtt_us.push_back(std::chrono::duration<double, std::micro>(bench_clock::now() - sent).count());
    if (rtt_us.size() < target) {
      ping();
    } else {
      finished.notify();
    }
  }
};

void report_rtt(const char* what, const std::vector<double>& v) {
  std::printf("%-16s RTT p50 %7.1f us  p99 %7.1f us  p99.9 %7.1f us  (%zu round trips)\n", what,
              percentile(v, 0.50), percentile(v, 0.99), percentile(v, 0.999), v.size());
}

void ping_pong(std::size_t round_trips, bool busy_poll) {
  echo_handler hb;
  pinger ha;
  transport b(node_config("bench-b", busy_poll), hb);
  hb.self = &b;
  transport a(node_config("bench-a", busy_poll), ha);
  ha.self = &a;
  ha.target = round_trips + round_trips / 10;  // the first 10% warm up
  ha.rtt_us.reserve(ha.target);
  ha.id = a.connect("127.0.0.1", b.port());
  ha.up.wait();
  ha.ping();  // from this thread once; the handler keeps it going
  ha.finished.wait();
  std::vector<double> measured(ha.rtt_us.begin() + static_cast<std::ptrdiff_t>(round_trips / 10),
                               ha.rtt_us.end());
  report_rtt(tls_pki ? (busy_poll ? "volley TLS busy" : "volley TLS")
                     : (busy_poll ? "volley busy-poll" : "volley"),
             measured);
}

// -- raw blocking TCP ------------------------------------------------------------------

/// One blocking send() per frame (batch 1: what a naive transport does), or
/// `batch` frames per send() (the ceiling of the loopback for this frame).
void raw_one_way(std::uint64_t messages, std::size_t batch) {
  raw_pair p;
  std::array<std::byte, payload_size> payload{};
  std::vector<std::byte> wire;
  encode_append(bench_frame(payload, 0), wire);
  std::uint64_t total = messages * wire.size();
  double cpu0 = volley::remote::bench::process_cpu_seconds();
  auto start = bench_clock::now();
  std::thread reader([&] {
    std::vector<char> buf(64 * 1024);
    std::uint64_t got = 0;
    while (got < total) {
      ssize_t r = ::recv(p.server, buf.data(), buf.size(), 0);
      if (r <= 0) break;
      got += static_cast<std::uint64_t>(r);
    }
  });
  std::vector<std::byte> many;
  for (std::size_t i = 0; i < batch; ++i) many.insert(many.end(), wire.begin(), wire.end());
  for (std::uint64_t sent = 0; sent < messages; sent += batch) {
    std::uint64_t n = std::min<std::uint64_t>(batch, messages - sent);
    write_all(p.client, many.data(), n * wire.size());
  }
  reader.join();
  double secs = std::chrono::duration<double>(bench_clock::now() - start).count();
  double cpu_ns =
      (volley::remote::bench::process_cpu_seconds() - cpu0) * 1e9 / static_cast<double>(messages);
  std::printf(
      "%-16s %9.2f M msg/s  %6.0f CPU-ns/msg  (%zu %zu-byte frames per blocking send(), %.3f s)\n",
      batch == 1 ? "raw TCP one-way" : "raw TCP batched",
      static_cast<double>(messages) / secs / 1e6, cpu_ns, batch, wire.size(), secs);
}

/// Blocking send()/recv(), or (spin) both threads polling with MSG_DONTWAIT:
/// the floor under volley's default and busy_poll round trips.
void raw_ping_pong(std::size_t round_trips, bool spin) {
  raw_pair p;
  auto put = spin ? volley::remote::bench::write_all_spin : write_all;
  auto get = spin ? volley::remote::bench::read_all_spin : read_all;
  std::array<std::byte, 48> msg{};
  std::size_t total = round_trips + round_trips / 10;
  std::thread echo([&] {
    std::array<std::byte, 48> in{};
    for (std::size_t i = 0; i < total; ++i) {
      if (!get(p.server, in.data(), in.size()) || !put(p.server, in.data(), in.size())) return;
    }
  });
  std::vector<double> rtt;
  rtt.reserve(total);
  for (std::size_t i = 0; i < total; ++i) {
    auto t0 = bench_clock::now();
    put(p.client, msg.data(), msg.size());
    get(p.client, msg.data(), msg.size());
    rtt.push_back(std::chrono::duration<double, std::micro>(bench_clock::now() - t0).count());
  }
  echo.join();
  std::vector<double> measured(rtt.begin() + static_cast<std::ptrdiff_t>(round_trips / 10),
                               rtt.end());
  report_rtt(spin ? "raw TCP busy" : "raw TCP", measured);
}

}  // namespace

int main(int argc, char** argv) {
  bool with_tls = false;
  std::string workloads = "orb";  // one-way, RTT, busy-poll RTT
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--tls") == 0) {
      with_tls = true;
    } else if (std::strncmp(argv[i], "--only=", 7) == 0) {
      workloads = argv[i] + 7;
    } else {
      args.emplace_back(argv[i]);
    }
  }
  std::uint64_t messages =
      args.size() > 0 ? std::strtoull(args[0].c_str(), nullptr, 10) : 5'000'000;
  std::size_t round_trips = args.size() > 1 ? std::strtoull(args[1].c_str(), nullptr, 10) : 50'000;
  std::string which = args.size() > 2 ? args[2] : "all";
  bool volley = which != "raw", raw = which != "volley";
  std::printf("volley remote transport benchmark (loopback, %u hardware threads)\n",
              std::thread::hardware_concurrency());
  if (workloads.find('o') != std::string::npos) {
    if (volley) one_way(messages);
    if (raw) raw_one_way(messages, 1);
    if (raw) raw_one_way(messages, 1024);
  }
  if (workloads.find('r') != std::string::npos) {
    if (volley) ping_pong(round_trips, false);
    if (raw) raw_ping_pong(round_trips, false);
  }
  if (workloads.find('b') != std::string::npos) {
    if (volley) ping_pong(round_trips, true);
    if (raw) raw_ping_pong(round_trips, true);
  }
  if (volley && with_tls) {
    bench_pki pki;
    tls_pki = &pki;
    if (workloads.find('o') != std::string::npos) one_way(messages);
    if (workloads.find('r') != std::string::npos) ping_pong(round_trips, false);
    if (workloads.find('b') != std::string::npos) ping_pong(round_trips, true);
    tls_pki = nullptr;
  }
  return 0;
}
