// The transport with TLS on (transport_tls.cpp): frames of every size cross
// intact and in order through encryption, short writes of ciphertext and
// TLS records split across receives, and each frame send() accepted ends in
// exactly one counter, as on the plaintext path.
#include "test_certificates.hpp"
#include "test_support.hpp"

#include <volley/remote/transport.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

using namespace volley::remote;
using namespace volley::remote::test;
using volley::remote::testing::test_pki;

namespace {

struct tls_certs {
  test_pki pki;
  testing::issued ca = pki.make_ca("cluster-ca");
  testing::issued a = pki.make_node(ca, "node-a");
  testing::issued b = pki.make_node(ca, "node-b");
};

transport_config tls_test_config(const std::string& name, const testing::issued& cert,
                                 const testing::issued& ca) {
  transport_config c = test_config(name);
  c.tls = test_pki::config(cert, ca);
  return c;
}

/// Frame `seq`'s payload: a size that sweeps 0 B .. 300 KiB (so batches mix
/// coalesced small frames and large frames sent in place, and TLS records
/// split anywhere), every byte derived from seq and its offset.
std::size_t size_of(std::uint64_t seq) {
  return seq % 7 == 0 ? (seq * 7919) % (300 * 1024) : (seq * 31) % 200;
}
std::byte byte_of(std::uint64_t seq, std::size_t i) {
  return static_cast<std::byte>((seq * 131 + i) & 0xff);
}

/// Checks every frame's payload and order; counts the good ones.
struct checking_handler : transport_handler {
  std::mutex m;
  std::uint64_t next = 0;
  std::uint64_t good = 0;
  bool broken = false;
  std::atomic<int> ups{0};
  std::atomic<int> downs{0};
  void on_up(const peer_info&, std::uint64_t) override { ups.fetch_add(1); }
  void on_down(const peer_info&, close_reason, std::string_view) override { downs.fetch_add(1); }
  void on_frame(const peer_info&, const frame& f) override {
    std::lock_guard lock(m);
    bool ok = f.correlation_id == next && f.payload.size() == size_of(next);
    for (std::size_t i = 0; ok && i < f.payload.size(); ++i) ok = f.payload[i] == byte_of(next, i);
    if (!ok) broken = true;
    ++next;
    good += ok;
  }
  std::uint64_t received() {
    std::lock_guard lock(m);
    return next;
  }
};

frame make_frame(std::uint64_t seq, std::vector<std::byte>& buffer) {
  buffer.resize(size_of(seq));
  for (std::size_t i = 0; i < buffer.size(); ++i) buffer[i] = byte_of(seq, i);
  frame f;
  f.kind = frame_kind::message;
  f.flags = flag_target_id;
  f.target_id = 1;
  f.correlation_id = seq;
  f.payload = buffer;
  return f;
}

}  // namespace

TEST_CASE("with TLS, frames of every size arrive intact and in order, each counted written once",
          "[remote][transport][tls]") {
  tls_certs certs;
  checking_handler ha;
  recording_handler hb;
  transport a(tls_test_config("node-a", certs.a, certs.ca), ha);
  transport b(tls_test_config("node-b", certs.b, certs.ca), hb);
  connection_id id = b.connect("127.0.0.1", a.port());
  REQUIRE(hb.wait([&] { return hb.ups.size() == 1; }));

  // ~45 MB in all: far more than the socket buffers, so ciphertext writes
  // come back short and resume mid-record.
  constexpr std::uint64_t count = 1000;
  std::vector<std::byte> buffer;
  for (std::uint64_t seq = 0; seq < count; ++seq) {
    frame f = make_frame(seq, buffer);
    while (b.send(id, f) != send_result::queued) std::this_thread::yield();
  }
  REQUIRE(poll_until([&] { return ha.received() == count; }));
  {
    std::lock_guard lock(ha.m);
    CHECK_FALSE(ha.broken);
    CHECK(ha.good == count);
  }
  REQUIRE(poll_until([&] { return b.stats().frames_sent == count; }));
  transport_stats s = b.stats();
  CHECK(s.frames_queued == count);
  CHECK(s.frames_undelivered == 0);
  CHECK(s.frames_fate_unknown == 0);
  CHECK(ha.downs.load() == 0);
}

TEST_CASE("with TLS, a peer gone mid-stream leaves every queued frame in exactly one counter",
          "[remote][transport][tls][accounting]") {
  tls_certs certs;
  checking_handler ha;
  recording_handler hb;
  auto a = std::make_unique<transport>(tls_test_config("node-a", certs.a, certs.ca), ha);
  transport b(tls_test_config("node-b", certs.b, certs.ca), hb);
  connection_id id = b.connect("127.0.0.1", a->port());
  REQUIRE(hb.wait([&] { return hb.ups.size() == 1; }));

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> accepted{0};
  std::thread sender([&] {
    std::vector<std::byte> buffer;
    for (std::uint64_t seq = 0; !stop.load(); ++seq) {
      frame f = make_frame(seq, buffer);
      send_result r = b.send(id, f);
      if (r == send_result::queued) {
        accepted.fetch_add(1);
      } else {
        std::this_thread::yield();
        --seq;  // the same frame again: the receiver checks the sequence
      }
    }
  });
  REQUIRE(poll_until([&] { return ha.received() >= 300; }));
  a.reset();  // the peer goes away with the sender still pushing
  REQUIRE(hb.wait([&] { return !hb.downs.empty(); }));
  stop.store(true);
  sender.join();
  b.disconnect(id);  // no reconnect: the last frames become undelivered
  REQUIRE(poll_until([&] { return balanced(b.stats()); }));
  transport_stats s = b.stats();
  INFO("queued " << s.frames_queued << " sent " << s.frames_sent << " undelivered "
                 << s.frames_undelivered << " fate unknown " << s.frames_fate_unknown
                 << " received " << ha.received());
  CHECK(s.frames_queued == accepted.load());
  CHECK(ha.received() <= s.frames_sent);
  CHECK(s.frames_undelivered == hb.with_lock([&] { return hb.undelivered; }));
  {
    std::lock_guard lock(ha.m);
    CHECK_FALSE(ha.broken);
  }
}

TEST_CASE("a TLS node recognises a plaintext peer even when its first bytes come one at a time",
          "[remote][transport][tls]") {
  tls_certs certs;
  log_lines log;
  recording_handler ha;
  auto cfg = tls_test_config("node-a", certs.a, certs.ca);
  cfg.log = log.sink();
  transport a(cfg, ha);
  raw_peer p(a.port());
  // The hello of a node with a 198-byte name is 278 = 0x116 bytes long, so
  // its first byte is 0x16, a TLS handshake record's type; the second (0x01)
  // is no TLS version. One byte alone would pass for TLS.
  frame hello;
  hello.kind = frame_kind::hello;
  std::string name(198, 'n');
  hello.sender_node = name;
  std::vector<std::byte> intro(48);
  hello.payload = intro;
  std::vector<std::byte> bytes;
  encode_append(hello, bytes);
  REQUIRE(bytes[0] == std::byte{0x16});
  p.write_dripping(std::span(bytes).first(6));
  p.read_until_eof();  // the node closes on us
  REQUIRE(poll_until([&] { return a.stats().closes_for(close_reason::handshake_failed) == 1; }));
  CHECK(poll_until([&] { return log.has("peer speaks plaintext (first byte 0x16"); }));
  CHECK(ha.with_lock([&] { return ha.ups.size(); }) == 0);
}
