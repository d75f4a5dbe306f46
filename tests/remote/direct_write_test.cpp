// transport_settings::direct_writes (remote/src/transport_direct.cpp): a
// thread that sends an ask, or the reply to one, writes the frame to the
// socket itself when the connection has nothing queued or in flight. What
// must hold: the ask then wakes no loop on the asking side; with many
// threads telling and asking over one connection at once, each sender's
// messages arrive in its order, and every frame is counted exactly once;
// and a sender racing the connection's close never writes into whatever
// file gets the closed fd's number next.
// The first case checks itself against direct_writes off (every ask wakes
// the sleeping loop); the stress case was run against a known-bad build
// (the sender not checking that nothing is queued) and failed it in every
// round: an ask overtook its thread's staged tells. A build whose loop does
// not take the write side back before a sendmsg passed it: a TCP send takes
// the socket's lock for the whole call, so whole small writes do not
// interleave, and the queue check keeps senders out while user frames are
// queued; tests/checker/direct_write_checker_test.cpp catches that variant
// (and the others of write_side.hpp) on a model socket. The recycled-fd
// case was run against a close that does not wait out a sender (take()
// storing `loop`): 1,160 and 1,800 stray bytes reached the squatting socket
// pairs in two runs of 100 closes; the real take() passes.
#include "node_test_support.hpp"
#include "test_certificates.hpp"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <optional>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

using namespace volley::remote;
using namespace volley::remote::test;
using volley::remote::testing::issued;
using volley::remote::testing::test_pki;

namespace {
/// While set, a sender's SIOCOUTQ look (the one syscall between its claim of
/// the write side and its send(), transport_direct.cpp) first sleeps this
/// long, so a close racing it finds it inside: the window the close must
/// wait out, widened from a few hundred nanoseconds to milliseconds.
std::atomic<int> outq_stall_us{0};
/// While positive, that many SIOCOUTQ looks fail (EIO): a sender's direct
/// write is refused before it writes.
std::atomic<int> outq_failures{0};
/// While set, the next direct write's send() takes only the first half of
/// the frame, as a short write would: a torn frame on a real socket. (Only
/// direct writes pass MSG_DONTWAIT; the loop writes through io_uring, the
/// test's raw peers block.)
std::atomic<bool> tear_next_send{false};
}  // namespace

// Replaces libc's ioctl for this test binary (the transport library is
// linked statically, so its calls resolve here); every request goes on to
// the kernel unchanged, unless outq_failures fails it.
extern "C" int ioctl(int fd, unsigned long request, ...) noexcept {
  va_list args;
  va_start(args, request);
  void* arg = va_arg(args, void*);
  va_end(args);
  if (request == SIOCOUTQ) {
    if (int us = outq_stall_us.load(std::memory_order_relaxed); us > 0)
      std::this_thread::sleep_for(std::chrono::microseconds(us));
    for (int left = outq_failures.load(); left > 0;)
      if (outq_failures.compare_exchange_weak(left, left - 1)) {
        errno = EIO;
        return -1;
      }
  }
  return static_cast<int>(::syscall(SYS_ioctl, fd, request, arg));
}

// Likewise libc's send: every call goes on to the kernel, shortened to half
// its length when tear_next_send is set and the call is a direct write's.
extern "C" ssize_t send(int fd, const void* buf, size_t len, int flags) {
  if ((flags & MSG_DONTWAIT) != 0 && len > 1 && tear_next_send.exchange(false)) len /= 2;
  return ::syscall(SYS_sendto, fd, buf, len, flags, nullptr, 0);
}

namespace {

/// Certificates for node-a and node-b, one CA, made at test time.
struct cluster_pki {
  test_pki pki;
  issued ca = pki.make_ca("cluster-ca");
  issued cert_a = pki.make_node(ca, "node-a");
  issued cert_b = pki.make_node(ca, "node-b");
};

/// node_config_for with direct writes on or off, no reply spin (so that a
/// sleeping loop is woken by each frame handed to it, and the count of
/// wake-ups shows who wrote), and TLS when `pki` is given.
node_config config_for(const char* name, bool direct, const cluster_pki* pki) {
  node_config c = node_config_for(name);
  c.transport.direct_writes = direct;
  c.transport.reply_spin = std::chrono::microseconds(0);
  if (pki != nullptr)
    c.transport.tls =
        test_pki::config(std::string(name) == "node-a" ? pki->cert_a : pki->cert_b, pki->ca);
  return c;
}

struct paced_result {
  std::uint64_t direct_a = 0, direct_b = 0, wakeups_a = 0, wakeups_b = 0;
};

/// `n` asks from this thread, 1 ms apart so that A's loop sleeps before each.
paced_result ask_paced(bool direct, int n) {
  configured_nodes t(config_for("node-a", direct, nullptr), config_for("node-b", direct, nullptr));
  volley::any_ref remote = t.to_b.select("/user/collector");
  REQUIRE(remote.ask<pong>(ping{0}).get(patience));  // the connection and its proxy are warm
  auto before_a = t.node_a.stats().transport;
  auto before_b = t.node_b->stats().transport;
  for (int i = 1; i <= n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    auto r = remote.ask<pong>(ping{i}).get(patience);
    REQUIRE(r);
    CHECK(r.value().n == i + 1);
  }
  auto after_a = t.node_a.stats().transport;
  auto after_b = t.node_b->stats().transport;
  return {after_a.direct_writes - before_a.direct_writes,
          after_b.direct_writes - before_b.direct_writes, after_a.wakeups - before_a.wakeups,
          after_b.wakeups - before_b.wakeups};
}

/// `threads` plain threads, each `rounds` times: three numbered tells and
/// a numbered ask (ask<unit>), one sequence per thread, all to B's
/// collector, which flags any message out of its sender's order. Returns
/// the collector's tally (0 if anything came out of order).
struct stress_result {
  std::uint64_t tally = 0;
  std::uint64_t expected = 0;
  transport_stats a;
};
stress_result tell_and_ask(const cluster_pki* pki, int threads, int rounds) {
  configured_nodes t(config_for("node-a", true, pki), config_for("node-b", true, pki));
  volley::any_ref remote = t.to_b.select("/user/collector");
  REQUIRE(remote.ask<pong>(ping{0}).get(patience));
  std::vector<std::thread> senders;
  std::atomic<int> failed_asks{0};
  for (int s = 0; s < threads; ++s) {
    senders.emplace_back([&, s] {
      auto sender = static_cast<std::uint32_t>(s);
      std::uint64_t n = 0;
      for (int r = 0; r < rounds; ++r) {
        for (int k = 0; k < 3; ++k) remote.tell(numbered{sender, n++});
        if (!remote.ask<volley::unit>(numbered{sender, n++}).get(patience)) ++failed_asks;
      }
    });
  }
  for (auto& th : senders) th.join();
  CHECK(failed_asks.load() == 0);
  stress_result out;
  out.expected = static_cast<std::uint64_t>(threads) * static_cast<std::uint64_t>(rounds) * 4;
  // A tally ask goes behind every sender's last frame: all have been handled.
  auto counted = remote.ask<std::uint64_t>(tally{}).get(patience);
  REQUIRE(counted);
  out.tally = counted.value();
  // The counters are published at the end of a loop turn: wait until every
  // frame queued is accounted for.
  poll_until([&] {
    auto s = t.node_a.stats().transport;
    return s.frames_queued == s.frames_sent + s.frames_undelivered + s.frames_fate_unknown;
  });
  out.a = t.node_a.stats().transport;
  return out;
}

/// Socket pairs opened one after another (each takes the lowest free fd
/// numbers, so a number just closed is handed out again at once); bytes()
/// counts what reached their far ends, where nobody in the test writes.
class fd_squatters {
 public:
  fd_squatters() = default;
  fd_squatters(const fd_squatters&) = delete;
  fd_squatters& operator=(const fd_squatters&) = delete;
  ~fd_squatters() {
    for (auto [near, far] : pairs_) {
      ::close(near);
      ::close(far);
    }
  }
  void open_one() {
    std::array<int, 2> p{};
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p.data()) == 0) pairs_.push_back(p);
  }
  std::size_t bytes() const {
    std::size_t n = 0;
    for (auto [near, far] : pairs_) {
      std::array<std::byte, 512> buf;
      for (;;) {  // a stray write went into `near`: it waits at `far`
        ssize_t r = ::recv(far, buf.data(), buf.size(), MSG_DONTWAIT);
        if (r <= 0) break;
        n += static_cast<std::size_t>(r);
      }
    }
    return n;
  }
  std::size_t size() const { return pairs_.size(); }
  bool holds(int fd) const {
    for (auto [near, far] : pairs_)
      if (near == fd || far == fd) return true;
    return false;
  }

 private:
  std::vector<std::array<int, 2>> pairs_;
};

/// The fd of this process's TCP socket connected to `port` on loopback, or -1.
int socket_connected_to(std::uint16_t port) {
  for (int fd = 0; fd < 4096; ++fd) {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0 &&
        peer.sin_family == AF_INET && ntohs(peer.sin_port) == port)
      return fd;
  }
  return -1;
}

/// A small ask, the kind a sender writes itself.
frame small_ask(std::uint64_t seq) {
  frame f = numbered_frame(seq);
  f.kind = frame_kind::ask_request;
  return f;
}

/// Transport A, and a raw peer logged in to it as node-b (it reads what A
/// writes; it sends nothing, so no heartbeat of A's may judge it: A's
/// interval is longer than any test).
struct a_and_raw_peer {
  recording_handler ha;
  transport a{quiet_config(), ha};
  raw_peer peer{a.port()};
  connection_id id = 0;

  a_and_raw_peer() {
    REQUIRE(peer.handshake_as("node-b", "test-secret"));
    REQUIRE(ha.wait([&] { return ha.ups.size() == 1; }));
    id = ha.with_lock([&] { return ha.ups.back().id; });
  }
  static transport_config quiet_config() {
    transport_config c = test_config("node-a");
    c.heartbeat_interval = std::chrono::minutes(10);
    return c;
  }
  /// The asks among the frames the peer reads, until `n` of them, or the
  /// stream's end (`to_end`).
  std::vector<std::uint64_t> read_asks(std::size_t n, bool to_end = false) {
    std::vector<std::uint64_t> asks;
    raw_peer::received r;
    while ((to_end || asks.size() < n) && peer.next_frame(r))
      if (r.kind == frame_kind::ask_request) asks.push_back(r.correlation_id);
    return asks;
  }
};

/// 0, 1, ..., n - 1.
std::vector<std::uint64_t> first(std::uint64_t n) {
  std::vector<std::uint64_t> v;
  for (std::uint64_t i = 0; i < n; ++i) v.push_back(i);
  return v;
}

}  // namespace

TEST_CASE("an ask and its reply are written by their own threads: the asker wakes no loop",
          "[remote][direct]") {
  constexpr int n = 40;
  paced_result on = ask_paced(true, n);
  // Each ask and each worker's reply found its connection idle (the last
  // heartbeat may hold one of them: a few fall back to the loop). A reply
  // can also be made on B's loop (the worker answered before the loop
  // attached its callback, which then runs at once): the loop sends its own
  // frames in its turn's sendmsg, no wake-up either. So no reply woke B's
  // loop. Known-bad run: direct writes off on B only failed it (B's loop
  // woken per reply the workers handed it).
  CHECK(on.direct_a >= n - 4);
  CHECK(on.direct_b > 0);
  CHECK(on.wakeups_a <= 4);
  CHECK(on.wakeups_b <= 4);
  paced_result off = ask_paced(false, n);
  CHECK(off.direct_a == 0);
  CHECK(off.direct_b == 0);
  CHECK(off.wakeups_a >= n - 4);  // what the first case must not do: each ask woke A's loop
}

/// `n` asks from this thread to B's collector over nodes configured so: how
/// many A's asker wrote itself, and how many of them its node noted for a
/// wait that looks for the reply awake (ask.hpp, poll_for_reply).
struct awake_result {
  std::uint64_t direct_a = 0;
  int noted = 0;
};
awake_result ask_awake(node_config ca, node_config cb, int n) {
  configured_nodes t(std::move(ca), std::move(cb));
  volley::any_ref remote = t.to_b.select("/user/collector");
  REQUIRE(remote.ask<pong>(ping{0}).get(patience));
  auto before = t.node_a.stats().transport;
  awake_result out;
  for (int i = 1; i <= n; ++i) {
    auto f = remote.ask<pong>(ping{i});
    if (volley::detail::noted_reply_poll() > std::chrono::nanoseconds::zero()) ++out.noted;
    auto r = f.get(patience);
    REQUIRE(r);
    CHECK(r.value().n == i + 1);
    CHECK(volley::detail::noted_reply_poll() == std::chrono::nanoseconds::zero());  // one wait
  }
  out.direct_a = t.node_a.stats().transport.direct_writes - before.direct_writes;
  return out;
}

// Known-bad runs: the asker handing its ask to the busy-polling loop (the
// transport.cpp condition as it was) failed the first check, direct writes
// 0 of 200; node.cpp not noting the ask failed the second, 0 of 200 noted.
// What the note buys shows in a count this test does not assert (it
// depends on load): the waits that ended asleep on the futex, measured by
// the thread's voluntary switches under ASan, were 9, 10 and 11 of 200
// with the note ignored (take_reply_poll returning zero) and 0, 0 and 0
// with it.
TEST_CASE("on a busy-polling node the asker writes its ask itself and waits for the reply awake",
          "[remote][direct]") {
  constexpr int n = 200;
  node_config ca = config_for("node-a", true, nullptr);
  ca.transport.busy_poll = true;
  node_config cb = config_for("node-b", true, nullptr);
  cb.inline_handlers = true;  // B's loop answers: the round trip passes no worker
  awake_result busy = ask_awake(ca, cb, n);
  // A heartbeat in flight may send a few asks the loop's way.
  CHECK(busy.direct_a >= n - 4);
  CHECK(busy.noted == n);
  // A node whose loop sleeps: the usual wait (its loop may sleep past 200 µs).
  awake_result sleeping = ask_awake(config_for("node-a", true, nullptr), cb, n);
  CHECK(sleeping.noted == 0);
}

TEST_CASE("threads telling and asking over one connection: order per sender, every frame counted",
          "[remote][direct]") {
  for (int round = 0; round < 3; ++round) {
    stress_result r = tell_and_ask(nullptr, 4, 150);
    CHECK(r.tally == r.expected);  // 0: a message overtook one its sender sent before it
    CHECK(r.a.frames_undelivered == 0);
    CHECK(r.a.frames_fate_unknown == 0);
    CHECK(r.a.frames_queued == r.a.frames_sent);
    CHECK(r.a.direct_writes > 0);  // the path under test was taken
  }
}

TEST_CASE("with TLS every frame goes through the loop, in order", "[remote][direct][tls]") {
  cluster_pki pki;
  stress_result r = tell_and_ask(&pki, 4, 60);
  CHECK(r.tally == r.expected);
  CHECK(r.a.frames_queued == r.a.frames_sent);
  CHECK(r.a.direct_writes == 0);  // a sender cannot write TLS records
}

TEST_CASE("a sender racing a close never writes into the fd's next owner", "[remote][direct]") {
  // Threads send small asks (written by the sender whenever the connection
  // is idle) while the test disconnects the connection, round after round,
  // and connects a new one. After each disconnect the test opens socket
  // pairs until one takes the closed socket's fd number. close() takes the
  // write side for good before the loop closes the fd, waiting out a
  // sender's send(), so nothing may reach those pairs.
  recording_handler ha, hb;
  transport a(test_config("node-a"), ha);
  transport b(test_config("node-b"), hb);
  std::atomic<connection_id> current{b.connect("127.0.0.1", a.port())};
  REQUIRE(hb.wait([&] { return hb.ups.size() == 1; }));
  constexpr int senders = 3;
  constexpr int rounds = 100;
  constexpr int stall_us = 2000;
  std::atomic<bool> halt{false};
  std::atomic<std::uint64_t> refused{0};
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s)
    threads.emplace_back([&] {
      for (std::uint64_t n = 0; !halt.load(std::memory_order_relaxed); ++n) {
        send_result r = b.send(current.load(), small_ask(n));
        if (r != send_result::queued && r != send_result::queue_full &&
            r != send_result::unknown_connection)
          ++refused;
        // Paced, so the connection is often idle and the next ask goes direct.
        std::this_thread::sleep_for(std::chrono::microseconds(20));
      }
    });
  // A stream back from A: its segments carry A's acknowledgements at once,
  // so B's send queue empties and the next ask can go direct (a direct
  // write needs SIOCOUTQ 0; a delayed ack alone would hold it for ~40 ms).
  threads.emplace_back([&] {
    for (std::uint64_t n = 0; !halt.load(std::memory_order_relaxed); ++n) {
      connection_id back = ha.with_lock([&] { return ha.ups.empty() ? 0 : ha.ups.back().id; });
      if (back != 0) a.send(back, numbered_frame(n));
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  });
  std::size_t stray = 0, squatted = 0, reused = 0;
  for (int round = 0; round < rounds; ++round) {
    int old_fd = socket_connected_to(a.port());
    REQUIRE(old_fd >= 0);
    outq_stall_us = stall_us;  // a sender that claims now is still inside at the close
    b.disconnect(current.load());
    {
      fd_squatters squat;
      auto give_up = std::chrono::steady_clock::now() + patience;
      while (!squat.holds(old_fd) && squat.size() < 4000 &&
             std::chrono::steady_clock::now() < give_up) {
        squat.open_one();
        if (!squat.holds(old_fd)) std::this_thread::sleep_for(std::chrono::microseconds(20));
      }
      outq_stall_us = 0;
      // A stalled sender's write, if it went on after the close, lands now.
      std::this_thread::sleep_for(std::chrono::microseconds(2 * stall_us));
      stray += squat.bytes();
      squatted += squat.size();
      reused += squat.holds(old_fd) ? 1 : 0;
    }
    current = b.connect("127.0.0.1", a.port());
    REQUIRE(hb.wait([&] { return hb.ups.size() == static_cast<std::size_t>(round) + 2; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // asks go direct again
  }
  halt = true;
  for (auto& th : threads) th.join();
  INFO(squatted << " socket pairs opened across " << rounds << " closes; " << reused
                << " took the closed connection's fd number; " << b.stats().direct_writes
                << " asks written directly");
  CHECK(stray == 0);
  CHECK(reused == rounds);  // the race under test was run every round
  CHECK(refused.load() == 0);
  transport_stats st{};
  CHECK(poll_until([&] {
    st = b.stats();
    return balanced(st);
  }));
  CHECK(st.direct_writes > 0);  // the path under test was taken
}

TEST_CASE("a torn direct write: nothing follows the half frame, and the connection closes as torn",
          "[remote][direct]") {
  // A send() that takes half the frame (the override above: a short write
  // on a real socket) loses the stream. The sender counts the frame of
  // unknown fate and shuts the socket down, leaving the write side the
  // loop's; the loop then writes nothing more (not the ask sent after it,
  // not a close frame) and closes the connection as an i/o error, knowing
  // the end of stream it reads is its own. The raw peer reads the stream to
  // its end: the whole asks before, the torn half, nothing else.
  // Known-bad runs: a loop that took that end of stream for the peer's close
  // (the code before write_side::torn()) closed it as peer_closed, and this
  // case failed on the reason; a sender that did not shut the socket down
  // left the stream open, and the next ask's bytes followed the half frame.
  a_and_raw_peer t;
  const std::size_t frame_size = encoded_size(small_ask(0));
  // Asks until one is written directly: a sender writes only into an empty
  // send queue, which the handshake's last bytes may not have left yet.
  std::uint64_t n = 0;
  tear_next_send = true;
  while (tear_next_send.load() && n < 1000) {
    REQUIRE(t.a.send(t.id, small_ask(n++)) == send_result::queued);
    if (tear_next_send.load()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  REQUIRE_FALSE(tear_next_send.load());  // the path under test was taken
  const std::uint64_t torn = n - 1;
  // Sent after the torn frame: the loop's to write, if it wrote anything.
  send_result after = t.a.send(t.id, small_ask(n++));
  CHECK((after == send_result::queued || after == send_result::unknown_connection));
  std::vector<std::uint64_t> asks = t.read_asks(0, true);
  CHECK(t.peer.ended());  // an end of stream, not a reset or the read's timeout
  CHECK(t.peer.unfinished_bytes() == frame_size / 2);
  CHECK(asks == first(torn));  // each whole ask once, in order
  REQUIRE(t.ha.wait([&] { return !t.ha.downs.empty(); }));
  down_event down = t.ha.with_lock([&] { return t.ha.downs.front(); });
  CHECK(down.reason == close_reason::io_error);
  CHECK(down.detail.find("direct write was cut short") != std::string::npos);
  transport_stats st{};
  CHECK(poll_until([&] {
    st = t.a.stats();
    return balanced(st) && st.frames_queued == n - (after == send_result::queued ? 0 : 1);
  }));
  INFO("queued " << st.frames_queued << ", sent " << st.frames_sent << ", undelivered "
                 << st.frames_undelivered << ", fate unknown " << st.frames_fate_unknown);
  CHECK(st.frames_sent == torn);
  // The torn one only: the ask after it, if the loop's sendmsg of it failed
  // (EPIPE: the socket was shut down), was never written and is a dead letter.
  CHECK(st.frames_fate_unknown == 1);
  CHECK(st.closes_for(close_reason::io_error) == 1);
  CHECK(st.closes_for(close_reason::peer_closed) == 0);
}

TEST_CASE("a refused direct write goes through the loop: every frame arrives once, in order",
          "[remote][direct]") {
  // The SIOCOUTQ look fails for the first asks (a refusal, as when unsent
  // bytes wait): each goes to the loop's queue, and the asks sent after it
  // follow it, through the queue while it holds one, directly once it is
  // empty. Known-bad run: a refusal reported as written (write() returning
  // `written` when the ioctl failed) lost the refused asks, and this case
  // failed on the asks read.
  a_and_raw_peer t;
  constexpr std::uint64_t n = 40;
  constexpr int refusals = 3;
  outq_failures = refusals;
  for (std::uint64_t i = 0; i < n; ++i) {
    REQUIRE(t.a.send(t.id, small_ask(i)) == send_result::queued);
    if (i % 4 == 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // idle again
  }
  CHECK(t.read_asks(n) == first(n));
  CHECK(outq_failures.load() == 0);  // the refusals happened
  outq_failures = 0;
  transport_stats st{};
  CHECK(poll_until([&] {
    st = t.a.stats();
    return st.frames_sent == n;
  }));
  CHECK(balanced(st));
  CHECK(st.frames_queued == n);
  CHECK(st.frames_undelivered == 0);
  CHECK(st.frames_fate_unknown == 0);
}
