#include <volley/remote/frame_codec.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace volley::remote;

namespace {

std::vector<std::byte> bytes_of(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(std::byte(b));
  return out;
}

struct owned_frame {
  frame_kind kind;
  std::uint8_t flags;
  std::string target_path, sender_node, sender_path;
  std::uint64_t target_id, type_marker, correlation_id;
  std::vector<std::byte> payload;
  explicit owned_frame(const frame& f)
      : kind(f.kind),
        flags(f.flags),
        target_path(f.target_path),
        sender_node(f.sender_node),
        sender_path(f.sender_path),
        target_id(f.target_id),
        type_marker(f.type_marker),
        correlation_id(f.correlation_id),
        payload(f.payload.begin(), f.payload.end()) {}
  bool operator==(const owned_frame&) const = default;
};

std::vector<owned_frame> decode_all(frame_decoder& d, std::span<const std::byte> bytes,
                                    std::size_t chunk, decode_error& err) {
  std::vector<owned_frame> out;
  err = decode_error::none;
  for (std::size_t at = 0; at < bytes.size() && err == decode_error::none; at += chunk) {
    auto piece = bytes.subspan(at, std::min(chunk, bytes.size() - at));
    err = d.feed(piece, [&](const frame& f) { out.emplace_back(f); });
  }
  return out;
}

/// A header with chosen raw fields, for feeding bad input.
std::vector<std::byte> raw_header(std::uint32_t length, std::uint8_t kind, std::uint8_t flags = 0,
                                  std::uint16_t tlen = 0, std::uint16_t nlen = 0,
                                  std::uint16_t slen = 0, std::uint32_t reserved = 0) {
  std::vector<std::byte> h(header_size);
  detail::store_u32(h.data(), length);
  h[4] = std::byte(kind);
  h[5] = std::byte(flags);
  detail::store_u16(h.data() + 6, tlen);
  detail::store_u16(h.data() + 8, nlen);
  detail::store_u16(h.data() + 10, slen);
  detail::store_u32(h.data() + 12, reserved);
  return h;
}

decode_error feed_error(std::span<const std::byte> bytes, frame_limits limits = {}) {
  frame_decoder d(limits);
  int delivered = 0;
  decode_error e = d.feed(bytes, [&](const frame&) { ++delivered; });
  return e != decode_error::none ? e : d.finish();
}

std::vector<frame> sample_frames(const std::vector<std::byte>& payload) {
  std::vector<frame> v;
  frame hello;
  hello.kind = frame_kind::hello;
  hello.sender_node = "node-a";
  hello.payload = payload;
  v.push_back(hello);
  frame hb;
  hb.kind = frame_kind::heartbeat;
  v.push_back(hb);
  frame msg;
  msg.kind = frame_kind::message;
  msg.target_path = "/user/parent/child";
  msg.sender_node = "node-b:2552";
  msg.sender_path = "/user/sender";
  msg.type_marker = 0xdeadbeefcafef00dULL;
  msg.payload = payload;
  v.push_back(msg);
  frame by_id;
  by_id.kind = frame_kind::ask_request;
  by_id.flags = flag_target_id;
  by_id.target_id = 42;
  by_id.correlation_id = 7;
  by_id.payload = payload;
  v.push_back(by_id);
  frame reply;
  reply.kind = frame_kind::ask_reply;
  reply.correlation_id = 7;
  reply.type_marker = 3;
  v.push_back(reply);
  for (auto k : {frame_kind::watch, frame_kind::unwatch, frame_kind::terminated}) {
    frame w;
    w.kind = k;
    w.target_path = "/user/watched";
    w.sender_path = "/user/watcher";
    v.push_back(w);
  }
  frame fail;
  fail.kind = frame_kind::ask_failure;
  fail.correlation_id = 9;
  fail.payload = payload;
  v.push_back(fail);
  frame cl;
  cl.kind = frame_kind::close;
  v.push_back(cl);
  frame tiny;  // sections of fewer than 4 bytes (parse_frame_like's byte loop)
  tiny.kind = frame_kind::message;
  tiny.target_path = "/a";
  tiny.payload = payload;
  v.push_back(tiny);
  return v;
}

}  // namespace

TEST_CASE("a frame encodes to the documented little-endian layout", "[remote][codec]") {
  // The golden vector of PROTOCOL.md, "Example".
  std::vector<std::byte> payload = bytes_of({0xaa, 0xbb});
  frame f;
  f.kind = frame_kind::message;
  f.target_path = "/a";
  f.sender_node = "n";
  f.sender_path = "/b";
  f.type_marker = 0x0102030405060708ULL;
  f.correlation_id = 0x1112131415161718ULL;
  f.payload = payload;
  auto expected =
      bytes_of({0x27, 0,    0,    0,    0x07, 0x00, 0x02, 0x00, 0x01, 0x00, 0x02, 0x00, 0,
                0,    0,    0,    0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x18, 0x17,
                0x16, 0x15, 0x14, 0x13, 0x12, 0x11, '/',  'a',  'n',  '/',  'b',  0xaa, 0xbb});
  std::vector<std::byte> out;
  encode_append(f, out);
  CHECK(out == expected);
  CHECK(encoded_size(f) == expected.size());
}

TEST_CASE("every frame kind survives an encode/decode round trip", "[remote][codec]") {
  std::vector<std::byte> payload(100);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = std::byte(i * 7);
  auto frames = sample_frames(payload);
  std::vector<std::byte> stream;
  for (auto& f : frames) {
    REQUIRE(validate(f) == decode_error::none);
    encode_append(f, stream);
  }
  frame_decoder d;
  decode_error err;
  auto got = decode_all(d, stream, stream.size(), err);
  REQUIRE(err == decode_error::none);
  REQUIRE(got.size() == frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) CHECK(got[i] == owned_frame(frames[i]));
  CHECK(d.buffered() == 0);
  CHECK(d.finish() == decode_error::none);
}

TEST_CASE("the decoder yields the same frames when fed one byte at a time", "[remote][codec]") {
  std::vector<std::byte> payload(33, std::byte{5});
  auto frames = sample_frames(payload);
  std::vector<std::byte> stream;
  for (auto& f : frames) encode_append(f, stream);
  frame_decoder d;
  decode_error err;
  auto got = decode_all(d, stream, 1, err);
  REQUIRE(err == decode_error::none);
  REQUIRE(got.size() == frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) CHECK(got[i] == owned_frame(frames[i]));
}

TEST_CASE("the decoder handles chunks split at random places", "[remote][codec]") {
  std::mt19937 rng(12345);
  std::vector<std::byte> stream;
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::byte> payload(rng() % 300, std::byte(i & 0xff));
    frame f;
    f.kind = frame_kind::message;
    f.target_path = "/user/x";
    f.correlation_id = static_cast<std::uint64_t>(i);
    f.payload = payload;
    encode_append(f, stream);
    ids.push_back(static_cast<std::uint64_t>(i));
  }
  frame_decoder d;
  std::vector<std::uint64_t> seen;
  std::size_t at = 0;
  while (at < stream.size()) {
    std::size_t n = std::min<std::size_t>(1 + rng() % 700, stream.size() - at);
    REQUIRE(d.feed(std::span(stream).subspan(at, n), [&](const frame& f) {
      seen.push_back(f.correlation_id);
    }) == decode_error::none);
    at += n;
  }
  CHECK(seen == ids);
}

TEST_CASE("encode refuses a buffer that is too small", "[remote][codec]") {
  frame f;
  f.kind = frame_kind::heartbeat;
  std::vector<std::byte> small(header_size - 1);
  CHECK(encode(f, small) == 0);
  std::vector<std::byte> exact(header_size);
  CHECK(encode(f, exact) == header_size);
}

TEST_CASE("an oversized length is refused as soon as it is read", "[remote][codec]") {
  auto h = raw_header(2u << 20, 7);
  // Only the length field: no need to wait for (or buffer) the body.
  CHECK(feed_error(std::span(h).first(4)) == decode_error::oversized);
  frame_limits small{4096, 1024};
  auto h2 = raw_header(4097, 7);
  CHECK(feed_error(h2, small) == decode_error::oversized);
  auto ok = raw_header(4096, 7);
  frame_decoder d(small);
  CHECK(d.feed(ok, [](const frame&) {}) == decode_error::none);
}

TEST_CASE("malformed headers are refused", "[remote][codec]") {
  SECTION("length below the header size") {
    CHECK(feed_error(raw_header(31, 7)) == decode_error::malformed_header);
  }
  SECTION("reserved bits set") {
    CHECK(feed_error(raw_header(32, 7, 0, 0, 0, 0, 1)) == decode_error::malformed_header);
  }
  SECTION("unknown flag") {
    CHECK(feed_error(raw_header(32, 7, 0x80)) == decode_error::malformed_header);
  }
  SECTION("interned target that is not 8 bytes") {
    auto h = raw_header(36, 7, flag_target_id, 4);
    h.resize(36);
    CHECK(feed_error(h) == decode_error::malformed_header);
  }
  SECTION("a heartbeat with a target") {
    auto h = raw_header(34, 6, 0, 2);
    h.push_back(std::byte('/'));
    h.push_back(std::byte('a'));
    CHECK(feed_error(h) == decode_error::malformed_header);
  }
  SECTION("a hello without a node name") {
    CHECK(feed_error(raw_header(32, 1)) == decode_error::malformed_header);
  }
}

TEST_CASE("unknown frame kinds are refused", "[remote][codec]") {
  CHECK(feed_error(raw_header(32, 0)) == decode_error::unknown_kind);
  CHECK(feed_error(raw_header(32, max_frame_kind + 1)) == decode_error::unknown_kind);
  CHECK(feed_error(raw_header(32, 255)) == decode_error::unknown_kind);
}

TEST_CASE("sections that do not fit, and streams cut inside a frame, are truncated",
          "[remote][codec]") {
  SECTION("sections longer than the frame") {
    CHECK(feed_error(raw_header(40, 7, 0, 20)) == decode_error::truncated_payload);
  }
  SECTION("end of stream inside the header") {
    auto h = raw_header(32, 6);
    frame_decoder d;
    CHECK(d.feed(std::span(h).first(10), [](const frame&) {}) == decode_error::none);
    CHECK(d.buffered() == 10);
    CHECK(d.finish() == decode_error::truncated_payload);
  }
  SECTION("end of stream inside the payload") {
    std::vector<std::byte> payload(50);
    frame f;
    f.kind = frame_kind::message;
    f.target_path = "/user/a";
    f.payload = payload;
    std::vector<std::byte> s;
    encode_append(f, s);
    frame_decoder d;
    CHECK(d.feed(std::span(s).first(s.size() - 1),
                 [](const frame&) { FAIL("no frame expected"); }) == decode_error::none);
    CHECK(d.finish() == decode_error::truncated_payload);
  }
}

TEST_CASE("bad paths and node names are refused", "[remote][codec]") {
  auto with_target = [](std::string_view target, std::string_view node = {},
                        std::string_view sender = {}) {
    frame f;
    f.kind = frame_kind::message;
    f.target_path = target;
    f.sender_node = node;
    f.sender_path = sender;
    std::vector<std::byte> s(encoded_size(f));
    encode(f, s);
    return feed_error(s);
  };
  CHECK(with_target("/user/ok") == decode_error::none);
  CHECK(with_target("user/no-slash") == decode_error::bad_path);
  CHECK(with_target("/with space") == decode_error::bad_path);
  CHECK(with_target("/ctl\x01") == decode_error::bad_path);
  CHECK(with_target("/\xc3\xa9") == decode_error::bad_path);
  // The printable range's edges: '!' and '~' pass, DEL and 0x80 do not.
  CHECK(with_target("/!~") == decode_error::none);
  CHECK(with_target("/a\x7f") == decode_error::bad_path);
  CHECK(with_target("/a\x80") == decode_error::bad_path);
  CHECK(with_target("/ok", {}, "/a\x1f") == decode_error::bad_path);
  CHECK(with_target(std::string(1, '/') + std::string(default_max_path_length, 'a')) ==
        decode_error::bad_path);
  CHECK(with_target("/ok", "bad node") == decode_error::bad_path);
  CHECK(with_target("/ok", "good-node_1.x:2552@h") == decode_error::none);
  CHECK(with_target("/ok", {}, "no-slash") == decode_error::bad_path);

  frame f;
  f.kind = frame_kind::message;
  f.target_path = "relative";
  CHECK(validate(f) == decode_error::bad_path);
}

TEST_CASE("a path with any unprintable byte, at any place and length, is refused",
          "[remote][codec]") {
  // The check reads eight bytes a step, the last step overlapping: every
  // length across three steps, every place, every byte value. Sender and
  // receiver must agree, so each verdict is checked on both sides.
  std::size_t wrong = 0;
  for (std::size_t length = 2; length <= 26; ++length) {
    for (std::size_t at = 1; at < length; ++at) {
      for (unsigned b = 0; b < 256; ++b) {
        std::string path(length, 'a');
        path[0] = '/';
        path[at] = static_cast<char>(b);
        bool printable = b >= 0x21 && b <= 0x7e;
        frame f;
        f.kind = frame_kind::message;
        f.target_path = path;
        f.sender_path = path;
        decode_error expected = printable ? decode_error::none : decode_error::bad_path;
        if (validate(f) != expected) ++wrong;
        // What a sender that checks its paths once calls (path_check::done_by_sender).
        if (valid_path(path, default_max_path_length) != printable) ++wrong;
        if (b % 16 != 0 && b != 0x7f && b != 0x20) continue;  // the receiver: a sample
        std::vector<std::byte> s(encoded_size(f));
        encode_exact(f, s);
        if (parse_frame(s).error != expected) ++wrong;
      }
    }
  }
  CHECK(wrong == 0);
}

TEST_CASE("validate gives the size that encode_exact fills, byte for byte as encode",
          "[remote][codec]") {
  const std::array<std::byte, 5> payload{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4},
                                         std::byte{5}};
  frame f;
  f.kind = frame_kind::ask_request;
  f.target_path = "/user/a-path-past-fifteen-chars";
  f.sender_path = "/user/sender";
  f.type_marker = 42;
  f.correlation_id = 7;
  f.payload = payload;
  std::size_t size = 0;
  REQUIRE(validate(f, {}, size) == decode_error::none);
  CHECK(size == encoded_size(f));
  std::vector<std::byte> exact(size), plain(size);
  encode_exact(f, exact);
  CHECK(encode(f, plain) == size);
  CHECK(exact == plain);
  auto parsed = parse_frame(exact);
  REQUIRE(parsed.error == decode_error::none);
  CHECK(parsed.consumed == size);
  CHECK(parsed.value.target_path == f.target_path);
  CHECK(parsed.value.sender_path == f.sender_path);
}

TEST_CASE("a failed decoder ignores everything after the error", "[remote][codec]") {
  frame_decoder d;
  auto bad = raw_header(32, 0);
  CHECK(d.feed(bad, [](const frame&) {}) == decode_error::unknown_kind);
  frame hb;
  hb.kind = frame_kind::heartbeat;
  std::vector<std::byte> good;
  encode_append(hb, good);
  int n = 0;
  CHECK(d.feed(good, [&](const frame&) { ++n; }) == decode_error::unknown_kind);
  CHECK(n == 0);
}

TEST_CASE("frames before an error are delivered, the rest are not", "[remote][codec]") {
  frame hb;
  hb.kind = frame_kind::heartbeat;
  std::vector<std::byte> s;
  encode_append(hb, s);
  encode_append(hb, s);
  auto bad = raw_header(32, 99);
  s.insert(s.end(), bad.begin(), bad.end());
  encode_append(hb, s);
  frame_decoder d;
  int n = 0;
  CHECK(d.feed(s, [&](const frame&) { ++n; }) == decode_error::unknown_kind);
  CHECK(n == 2);
}

TEST_CASE("a callback returning false stops decoding", "[remote][codec]") {
  frame hb;
  hb.kind = frame_kind::heartbeat;
  std::vector<std::byte> s;
  for (int i = 0; i < 5; ++i) encode_append(hb, s);
  frame_decoder d;
  int n = 0;
  CHECK(d.feed(s, [&](const frame&) { return ++n < 2; }) == decode_error::none);
  CHECK(n == 2);
  CHECK(d.feed(s, [&](const frame&) { return ++n < 100; }) == decode_error::none);
  CHECK(n == 2);
}

TEST_CASE("a sender that checked the paths itself still has the rest of a frame checked",
          "[remote][codec]") {
  frame f;
  f.kind = frame_kind::message;
  f.target_path = "/user/a b";  // a space: refused where the paths are checked
  f.sender_path = "/user/x";
  std::size_t size = 0;
  CHECK(validate(f, {}, size) == decode_error::bad_path);
  CHECK(validate(f, {}, size, path_check::each_frame) == decode_error::bad_path);
  CHECK(validate(f, {}, size, path_check::done_by_sender) == decode_error::none);
  CHECK(size == encoded_size(f));
  // Flags, kinds, section rules, sizes and node names are not the sender's to skip.
  frame beat;
  beat.kind = frame_kind::heartbeat;
  beat.sender_path = "/user/x";
  CHECK(validate(beat, {}, size, path_check::done_by_sender) == decode_error::malformed_header);
  frame big;
  big.kind = frame_kind::message;
  big.target_path = "/a";
  std::vector<std::byte> payload(default_max_frame_size);
  big.payload = payload;
  CHECK(validate(big, {}, size, path_check::done_by_sender) == decode_error::oversized);
  frame hello;
  hello.kind = frame_kind::hello;
  hello.sender_node = "bad node";
  CHECK(validate(hello, {}, size, path_check::done_by_sender) == decode_error::bad_path);
}

TEST_CASE("a sender's checked paths change no other answer of validate, at any size",
          "[remote][codec]") {
  // With valid paths, path_check::done_by_sender may only skip the path
  // checks: for every kind, flag, sender node and size about the limit
  // (validate's short way for a proxy's tell or ask included) the answer is
  // the full check's.
  const frame_limits limits{512, 64};
  std::vector<std::byte> payload(600);
  int compared = 0;
  for (auto kind : {frame_kind::message, frame_kind::ask_request, frame_kind::ask_reply,
                    frame_kind::heartbeat, frame_kind::hello}) {
    for (std::uint8_t flags : {std::uint8_t{0}, flag_target_id, std::uint8_t{0x80}}) {
      for (std::string_view node : {"", "node-a", "bad node"}) {
        for (std::size_t n = 440; n < 480; ++n) {
          frame f;
          f.kind = kind;
          f.flags = flags;
          if (flags & flag_target_id) {
            f.target_id = 9;
          } else {
            f.target_path = "/user/target";
          }
          f.sender_node = node;
          f.sender_path = "/user/sender";
          f.payload = std::span<const std::byte>(payload).first(n);
          std::size_t checked = 0, full = 0;
          decode_error a = validate(f, limits, checked, path_check::done_by_sender);
          decode_error b = validate(f, limits, full, path_check::each_frame);
          INFO("kind " << to_string(kind) << ", flags " << int(flags) << ", node '" << node
                       << "', payload " << n);
          CHECK(a == b);
          if (a == decode_error::none) CHECK(checked == full);
          ++compared;
        }
      }
    }
  }
  CHECK(compared == 5 * 3 * 3 * 40);
}

TEST_CASE("a checked path too long for its 16-bit length field is refused, not cut short",
          "[remote][codec]") {
  // A limit may allow paths past 65535 bytes, which no frame can carry: the
  // sender's check does not cover that, validate's short way must.
  const frame_limits limits{1 << 20, 1 << 17};
  const std::string long_path = "/" + std::string(0x10000, 'a');
  const std::string fits = "/" + std::string(0xfffe, 'a');
  for (auto kind : {frame_kind::message, frame_kind::ask_request}) {
    for (bool long_target : {true, false}) {
      frame f;
      f.kind = kind;
      std::string_view long_view = long_path;  // not a temporary string
      f.target_path = long_target ? long_view : "/user/target";
      f.sender_path = long_target ? "/user/sender" : long_view;
      std::size_t size = 0;
      INFO(to_string(kind) << (long_target ? ", long target" : ", long sender"));
      CHECK(validate(f, limits, size, path_check::done_by_sender) == decode_error::bad_path);
      CHECK(validate(f, limits, size, path_check::each_frame) == decode_error::bad_path);
      (long_target ? f.target_path : f.sender_path) = fits;
      REQUIRE(validate(f, limits, size, path_check::done_by_sender) == decode_error::none);
      std::vector<std::byte> out(size);
      encode_exact(f, out);
      auto parsed = parse_frame(out, limits);
      REQUIRE(parsed.error == decode_error::none);
      CHECK(owned_frame(parsed.value) == owned_frame(f));
    }
  }
}

TEST_CASE("sections of every length up to 40 bytes encode and parse back unchanged",
          "[remote][codec]") {
  // encode_exact copies short sections with overlapping word moves: each
  // length, in each section, must come back byte for byte.
  const std::string chars = "/abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN";
  const std::string node_chars = "abcdefghijklmnopqrstuvwxyz0123456789-_.ABCDEFGHIJKL";
  std::vector<std::byte> payload(40);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = std::byte(0xa0 + i);
  for (std::size_t n = 0; n <= 40; ++n) {
    frame f;
    f.kind = frame_kind::message;
    f.target_path = std::string_view(chars).substr(0, std::max<std::size_t>(n, 1));
    f.sender_path = std::string_view(chars).substr(0, n);
    f.type_marker = 0x1122334455667788ull;
    f.correlation_id = n;
    f.payload = std::span<const std::byte>(payload).first(n);
    frame hello;
    hello.kind = frame_kind::hello;
    hello.sender_node = std::string_view(node_chars).substr(0, std::max<std::size_t>(n, 1));
    for (const frame* g : {&f, &hello}) {
      std::size_t size = 0;
      REQUIRE(validate(*g, {}, size) == decode_error::none);
      // Guard bytes either side: a copy past its section would show.
      std::vector<std::byte> out(size + 16, std::byte{0x5a});
      encode_exact(*g, std::span<std::byte>(out).subspan(8, size));
      INFO("length " << n << ", kind " << to_string(g->kind));
      for (std::size_t i = 0; i < 8; ++i) {
        CHECK(out[i] == std::byte{0x5a});
        CHECK(out[8 + size + i] == std::byte{0x5a});
      }
      auto parsed = parse_frame(std::span<const std::byte>(out).subspan(8, size));
      REQUIRE(parsed.error == decode_error::none);
      CHECK(owned_frame(parsed.value) == owned_frame(*g));
    }
  }
}

TEST_CASE("validate refuses what a receiver would refuse", "[remote][codec]") {
  frame f;
  f.kind = frame_kind::heartbeat;
  f.sender_path = "/user/x";
  CHECK(validate(f) == decode_error::malformed_header);
  frame big;
  big.kind = frame_kind::message;
  big.target_path = "/a";
  std::vector<std::byte> payload(default_max_frame_size);
  big.payload = payload;
  CHECK(validate(big) == decode_error::oversized);
  frame unknown;
  unknown.kind = static_cast<frame_kind>(0);
  CHECK(validate(unknown) == decode_error::unknown_kind);
}

TEST_CASE("a frame like the one before it parses as it parses alone, whatever byte differs",
          "[remote][codec]") {
  // parse_frame_like skips the checks of bytes equal to the previous
  // frame's: every byte of the next frame changed to values that break a
  // check (a control byte, DEL, 0x80, a length, a kind), its cuts, and
  // limits lower than the previous frame met: what it accepts parse_frame
  // accepts as the same frame, and what it leaves it leaves untouched.
  const std::vector<std::byte> payload = bytes_of({1, 2, 3, 4, 5});
  for (const frame& f : sample_frames(payload)) {
    std::vector<std::byte> previous;
    encode_append(f, previous);
    const parse_result first = parse_frame(previous);
    REQUIRE(first.consumed == previous.size());
    const frame_limits limits_of_all[] = {
        {}, {previous.size() - 1, default_max_path_length}, {4096, 8}};
    for (const frame_limits& limits : limits_of_all) {
      std::size_t taken = 0;
      auto same_answer = [&](std::span<const std::byte> next) {
        frame like = first.value;
        std::size_t n = parse_frame_like(next, previous.data(), like, limits);
        parse_result alone = parse_frame(next, limits);
        if (n == 0) return owned_frame(like) == owned_frame(first.value);
        ++taken;
        return n == alone.consumed && alone.error == decode_error::none &&
               owned_frame(like) == owned_frame(alone.value);
      };
      std::vector<std::byte> next = previous;
      CHECK(same_answer(next));
      for (std::size_t cut = 0; cut < next.size(); ++cut)
        CHECK(same_answer(std::span<const std::byte>(next).first(cut)));
      for (std::size_t at = 0; at < next.size(); ++at) {
        for (int value : {0x00, 0x01, 0x08, 0x20, 0x2f, 0x7f, 0x80, 0xff}) {
          std::vector<std::byte> changed = next;
          changed[at] = std::byte(value);
          CHECK(same_answer(changed));
        }
      }
      // The unchanged frame, and those that differ in the marker, the
      // correlation id or the payload, take the short way.
      if (limits.max_frame_size >= previous.size() && limits.max_path_length >= 1024)
        CHECK(taken > 1);
    }
  }
}

TEST_CASE("limits lowered between two equal frames refuse the second", "[remote][codec]") {
  frame f;
  f.kind = frame_kind::message;
  f.target_path = "/user/a-long-target";
  std::vector<std::byte> s;
  encode_append(f, s);
  encode_append(f, s);
  frame_decoder d;
  int n = 0;
  CHECK(d.feed(s, [&](const frame&) {
    ++n;
    d.set_limits({default_max_frame_size, 8});
  }) == decode_error::bad_path);
  CHECK(n == 1);
}

TEST_CASE("the decoder says a frame is like the one before it only for its own chunk's frames",
          "[remote][codec]") {
  // like_previous lets a receiver skip checks of a frame's target and
  // sender: it must be true only when kind, flags and sections are the
  // previous frame's bytes, in the same feed, and never for the first frame
  // of a chunk or a frame assembled across chunks.
  frame a;
  a.kind = frame_kind::message;
  a.target_path = "/user/a-target";
  a.type_marker = 1;
  frame a_other_payload = a;  // differs only outside the sections: alike
  const std::vector<std::byte> payload = bytes_of({9, 9});
  a_other_payload.payload = payload;
  a_other_payload.correlation_id = 5;
  frame b = a;
  b.target_path = "/user/b-target";  // same length, other bytes
  frame a_sender = a;
  a_sender.sender_path = "/user/s";  // same target, another section
  std::vector<std::byte> s;
  for (const frame* f : {&a, &a_other_payload, &b, &b, &a, &a_sender, &a_sender, &a})
    encode_append(*f, s);
  const std::vector<bool> expected = {false, true, false, true, false, false, true, false};

  frame_decoder d;
  std::vector<bool> hints;
  auto record = [&](const frame&, bool like) { hints.push_back(like); };
  REQUIRE(d.feed(s, record) == decode_error::none);
  CHECK(hints == expected);

  // The same bytes split inside the third frame: the chunk after the split
  // starts afresh, and the frame put together from both halves is no one's like.
  std::vector<std::byte> one;
  encode_append(a, one);
  const std::size_t split = 2 * one.size() + 10;
  hints.clear();
  frame_decoder split_decoder;
  REQUIRE(split_decoder.feed(std::span(s).first(split), record) == decode_error::none);
  REQUIRE(split_decoder.feed(std::span(s).subspan(split), record) == decode_error::none);
  CHECK(hints == std::vector<bool>{false, true, false, false, false, false, true, false});
}
