// caf_remote_bench — remote_bench's two workloads on CAF 0.17's io module
// (BASP over the middleman), the peer volley's remoting is compared with.
//
// CAF derives its node id from the host and the process id, so two actor
// systems in one process would be one node talking to itself: the receiving
// system runs in a forked child instead (fork before any system starts),
// which publishes its actor on a loopback port; the parent connects with
// remote_actor. Default CAF configuration otherwise.
//
//   one-way:   N messages of two u64 (16 bytes of payload) from a
//              scoped_actor to the remote receiver; the receiver acks every
//              16 Ki messages and the sender keeps at most 256 Ki in flight
//              (the same window as remote_bench). msg/s from the first send
//              to the last ack.
//   RTT:       request/receive round trips from a scoped_actor, one at a
//              time, p50/p99/p99.9.
//
// Usage: caf_remote_bench [messages=1000000] [round_trips=20000]
// Prints a table, then one JSON object per figure on lines starting with '{'.
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using bench_clock = std::chrono::steady_clock;
using ack_atom = caf::atom_constant<caf::atom("ack")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;

namespace {

/// The receiver acks every this many messages: often enough that the
/// window never runs dry, rarely enough that acks are noise in the figure.
constexpr std::uint64_t ack_every = 16 * 1024;
constexpr std::uint64_t window = 256 * 1024;  ///< as in remote_bench

caf::behavior receiver(caf::event_based_actor* self) {
  auto count = std::make_shared<std::uint64_t>(0);
  return {
      [=](std::uint64_t, std::uint64_t) {
        if (++*count % ack_every == 0) {
          self->send(caf::actor_cast<caf::actor>(self->current_sender()), ack_atom::value, *count);
        }
      },
      [](ping_atom, std::uint64_t a, std::uint64_t b) { return caf::make_message(a, b); },
  };
}

/// The child: publishes a receiver, prints the port to `port_fd`, and lives
/// until `stop_fd` closes.
[[noreturn]] void serve(int port_fd, int stop_fd) {
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  {
    caf::actor_system sys{cfg};
    auto r = sys.spawn(receiver);
    auto port = sys.middleman().publish(r, 0, "127.0.0.1");
    std::uint16_t p = port ? *port : 0;
    if (!port)
      std::fprintf(stderr, "caf_remote_bench: publish: %s\n", sys.render(port.error()).c_str());
    if (::write(port_fd, &p, sizeof p) != sizeof p) std::_Exit(1);
    char c;
    while (::read(stop_fd, &c, 1) > 0) {
    }
    caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
  }
  std::_Exit(0);
}

std::vector<std::string> g_json;

void figure(const char* name, double value, const char* unit) {
  char line[256];
  std::snprintf(line, sizeof line,
                "{\"bench\":\"remote\",\"impl\":\"caf\",\"figure\":\"%s\",\"value\":%.3f,"
                "\"unit\":\"%s\"}",
                name, value, unit);
  g_json.emplace_back(line);
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  std::size_t i =
      std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

void one_way(caf::actor_system& sys, const caf::actor& remote, std::uint64_t messages) {
  caf::scoped_actor self{sys};
  std::uint64_t acked = 0;
  auto take_ack = [&] {
    self->receive([&](ack_atom, std::uint64_t n) { acked = std::max(acked, n); });
  };
  auto start = bench_clock::now();
  for (std::uint64_t i = 0; i < messages; ++i) {
    while (i - acked >= window) take_ack();
    self->send(remote, i, std::uint64_t{0});
  }
  while (acked < messages) take_ack();
  double secs = std::chrono::duration<double>(bench_clock::now() - start).count();
  double rate = static_cast<double>(messages) / secs / 1e6;
  std::printf("%-20s %9.2f M msg/s   (%llu messages, %.3f s)\n", "CAF one-way", rate,
              static_cast<unsigned long long>(messages), secs);
  figure("one_way", rate, "M msg/s");
}

void rtt(caf::actor_system& sys, const caf::actor& remote, std::size_t round_trips) {
  caf::scoped_actor self{sys};
  std::size_t total = round_trips + round_trips / 10;  // the first 10% warm up
  std::vector<double> us;
  us.reserve(total);
  for (std::size_t i = 0; i < total; ++i) {
    bool ok = false;
    auto t0 = bench_clock::now();
    self->request(remote, caf::infinite, ping_atom::value, std::uint64_t{i}, std::uint64_t{0})
        .receive([&](std::uint64_t a, std::uint64_t) { ok = a == i; },
                 [&](caf::error& e) {
                   std::fprintf(stderr, "caf_remote_bench: %s\n", sys.render(e).c_str());
                 });
    auto t1 = bench_clock::now();
    if (!ok) std::exit(1);
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  us.erase(us.begin(), us.begin() + static_cast<std::ptrdiff_t>(round_trips / 10));
  double p50 = percentile(us, 0.50), p99 = percentile(us, 0.99), p999 = percentile(us, 0.999);
  std::printf("%-20s RTT p50 %8.1f us   p99 %8.1f us   p99.9 %8.1f us   (%zu round trips)\n", "CAF",
              p50, p99, p999, us.size());
  figure("rtt_p50", p50, "us");
  figure("rtt_p99", p99, "us");
  figure("rtt_p99.9", p999, "us");
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t messages = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  std::size_t round_trips = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 20'000;
  messages = (messages + ack_every - 1) / ack_every * ack_every;  // the last ack ends the run

  int port_pipe[2], stop_pipe[2];
  if (::pipe(port_pipe) != 0 || ::pipe(stop_pipe) != 0) return 1;
  pid_t child = ::fork();
  if (child < 0) return 1;
  if (child == 0) {
    ::close(port_pipe[0]);
    ::close(stop_pipe[1]);
    serve(port_pipe[1], stop_pipe[0]);
  }
  ::close(port_pipe[1]);
  ::close(stop_pipe[0]);
  std::uint16_t port = 0;
  if (::read(port_pipe[0], &port, sizeof port) != sizeof port || port == 0) {
    std::fprintf(stderr, "caf_remote_bench: the receiving process did not start\n");
    return 1;
  }

  std::printf("caf_remote_bench: CAF %d.%d io module, two processes over loopback\n",
              CAF_VERSION / 10000, CAF_VERSION / 100 % 100);
  {
    caf::actor_system_config cfg;
    cfg.load<caf::io::middleman>();
    caf::actor_system sys{cfg};
    auto remote = sys.middleman().remote_actor("127.0.0.1", port);
    if (!remote) {
      std::fprintf(stderr, "caf_remote_bench: remote_actor: %s\n",
                   sys.render(remote.error()).c_str());
      ::kill(child, SIGKILL);
      return 1;
    }
    one_way(sys, *remote, messages);
    rtt(sys, *remote, round_trips);
  }
  ::close(stop_pipe[1]);
  ::waitpid(child, nullptr, 0);
  for (const auto& j : g_json) std::printf("%s\n", j.c_str());
  return 0;
}
