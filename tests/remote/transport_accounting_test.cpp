// Exact accounting of the transport (transport.hpp, transport_stats): every
// frame send() accepted ends in exactly one counter — written, undelivered
// (reported through on_undelivered) or fate unknown (in a write the
// connection's loss cut short) — and what was written but never handled by
// the peer is no more than the socket buffers could hold.
#include "test_support.hpp"

#include <volley/remote/transport.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>

using namespace volley::remote;
using namespace volley::remote::test;
using namespace std::chrono_literals;

namespace {

frame numbered(std::uint64_t seq, std::span<const std::byte> payload) {
  frame f;
  f.kind = frame_kind::message;
  f.flags = flag_target_id;
  f.target_id = 1;
  f.correlation_id = seq;
  f.payload = payload;
  return f;
}

}  // namespace

TEST_CASE("across a peer that dies mid-stream, every queued frame is counted exactly once",
          "[remote][transport][accounting]") {
  recording_handler hb;
  transport b(test_config("node-b"), hb);
  raw_peer peer(b.port());
  REQUIRE(peer.handshake_as("doomed", "test-secret"));
  REQUIRE(hb.wait([&] { return hb.ups.size() == 1; }));
  connection_id id = hb.with_lock([&] { return hb.ups[0].id; });

  // A sender that keeps the connection's queue full until it is gone.
  std::array<std::byte, 16> payload{};
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> turned_away{0};  // sends refused because the queue was full
  std::thread sender([&] {
    for (std::uint64_t seq = 0; !stop.load(); ++seq) {
      send_result r = b.send(id, numbered(seq, payload));
      if (r == send_result::queued) {
        accepted.fetch_add(1);
      } else if (r == send_result::unknown_connection) {
        break;  // the connection is gone for good
      } else {
        turned_away.fetch_add(1);
        std::this_thread::yield();
      }
    }
  });

  // The peer handles 20000 frames, then dies: its socket is reset with data
  // unread, as when the process is killed.
  std::uint64_t handled = 0;
  raw_peer::received r;
  while (handled < 20000 && peer.next_frame(r))
    if (r.kind == frame_kind::message) ++handled;
  // The peer reads no more, so the socket buffers fill and then the
  // transport's queue: wait until a send has been turned away after this
  // point, so frames are queued when the peer dies (a slow sender, as under
  // TSan, could otherwise let the queue drain first).
  std::uint64_t turned_away_before = turned_away.load();
  REQUIRE(poll_until([&] { return turned_away.load() > turned_away_before; }));
  linger hard{1, 0};
  REQUIRE(setsockopt(peer.fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard) == 0);
  // dup2 closes the socket (a reset: unread data, zero linger) and leaves
  // /dev/null under its number for raw_peer's destructor to close.
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(null_fd >= 0);
  REQUIRE(::dup2(null_fd, peer.fd()) == peer.fd());
  ::close(null_fd);

  REQUIRE(hb.wait([&] { return hb.downs.size() == 1; }));
  stop.store(true);
  sender.join();

  // Once the queue has drained into the three counters, they add up exactly.
  REQUIRE(poll_until([&] { return balanced(b.stats()); }));
  transport_stats s = b.stats();
  CHECK(s.frames_queued == accepted.load());
  CHECK(s.frames_undelivered == hb.with_lock([&] { return hb.undelivered; }));
  CHECK(handled <= s.frames_sent);
  // Written but not handled: in the two socket buffers (or the peer's read
  // buffer) when it died. No more than they could hold.
  std::size_t frame_bytes = encoded_size(numbered(0, payload));
  std::size_t buffers = tcp_buffer_max("tcp_wmem") + tcp_buffer_max("tcp_rmem") + 64 * 1024;
  CHECK((s.frames_sent - handled) * frame_bytes <= buffers);
  INFO(describe(s) << ", handled " << handled);
  CHECK(s.frames_undelivered + s.frames_fate_unknown > 0);  // the queue was full at the kill
}

TEST_CASE("frames still queued when a transport shuts down are all reported undelivered",
          "[remote][transport][accounting]") {
  silent_listener nobody;  // never answers: every frame stays queued until the shutdown
  recording_handler hb;
  std::array<std::byte, 16> payload{};
  std::uint64_t queued = 0;
  transport_stats s;
  {
    auto cfg = test_config("node-b");
    cfg.handshake_timeout = std::chrono::seconds(60);
    transport b(cfg, hb);
    connection_id id = b.connect("127.0.0.1", nobody.port());  // never comes up
    for (std::uint64_t i = 0; i < 1000; ++i)
      if (b.send(id, numbered(i, payload)) == send_result::queued) ++queued;
    b.stop();
    s = b.stats();
  }
  // Against a closed port (before) it failed once in a CI-like run, 862 of
  // 1,000 reported; the counters say which bucket a missing frame went to.
  INFO(describe(s));
  CHECK(queued == 1000);
  CHECK(s.frames_queued == queued);
  CHECK(s.frames_undelivered == queued);
  CHECK(hb.with_lock([&] { return hb.undelivered; }) == queued);
}
