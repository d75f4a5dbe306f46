// Checks shared by the libFuzzer targets and the corpus test
// (tests/remote/decoder_corpus_test.cpp), so that normal CI runs the same
// oracles over the seed corpus and random bytes that the fuzzers run over
// their mutations. Each returns false when an invariant breaks; crashing,
// overflowing or leaking is caught by the sanitizers around them.
#pragma once

#include <volley/remote/frame_codec.hpp>
#include <volley/remote/handshake.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace volley::remote::fuzz {

struct decode_outcome {
  decode_error error = decode_error::none;
  std::vector<std::byte> reencoded;  ///< every delivered frame, encoded again
  std::size_t frames = 0;
  /// A frame was said to be like the one before it (like_previous) while its
  /// kind, flags or sections differ: a receiver would skip checks it needs.
  bool false_like = false;
};

/// Whether two encoded frames have the same bytes 4..15 (kind, flags,
/// section lengths, reserved) and the same sections after the header.
inline bool same_head_and_sections(std::span<const std::byte> a, std::span<const std::byte> b) {
  if (a.size() < header_size || b.size() < header_size) return false;
  if (!std::equal(a.begin() + 4, a.begin() + 16, b.begin() + 4)) return false;
  std::size_t sections = std::size_t{detail::load_u16(b.data() + 6)} +
                         detail::load_u16(b.data() + 8) + detail::load_u16(b.data() + 10);
  if (a.size() < header_size + sections || b.size() < header_size + sections) return false;
  return std::equal(a.begin() + header_size, a.begin() + header_size + sections,
                    b.begin() + header_size);
}

inline decode_outcome decode_in_chunks(std::span<const std::byte> data, std::size_t chunk,
                                       frame_limits limits) {
  decode_outcome out;
  frame_decoder d(limits);
  std::vector<std::byte> previous, current;  // the last two frames delivered, encoded again
  for (std::size_t at = 0; at < data.size() && out.error == decode_error::none; at += chunk) {
    auto piece = data.subspan(at, std::min(chunk, data.size() - at));
    out.error = d.feed(piece, [&](const frame& f, bool like_previous) {
      ++out.frames;
      current.clear();
      encode_append(f, current);
      if (like_previous && !same_head_and_sections(previous, current)) out.false_like = true;
      out.reencoded.insert(out.reencoded.end(), current.begin(), current.end());
      previous.swap(current);
    });
  }
  if (out.error == decode_error::none) out.error = d.finish();
  return out;
}

/// The decoder's result does not depend on how the stream is split, and every
/// frame it delivers re-encodes to exactly the bytes it came from.
inline bool check_decoder(std::span<const std::byte> data) {
  frame_limits limits{4096, 256};  // small limits reach the limit checks often
  decode_outcome whole = decode_in_chunks(data, data.size() ? data.size() : 1, limits);
  if (whole.false_like) return false;
  if (whole.reencoded.size() > data.size()) return false;
  if (!std::equal(whole.reencoded.begin(), whole.reencoded.end(), data.begin())) return false;
  for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{32}, std::size_t{333}}) {
    decode_outcome split = decode_in_chunks(data, chunk, limits);
    if (split.false_like) return false;
    if (split.frames != whole.frames || split.reencoded != whole.reencoded) return false;
    // An error may be found earlier in the whole buffer (length checks need
    // 4 bytes, not a full header), but a stream with an error stays in error.
    if ((split.error == decode_error::none) != (whole.error == decode_error::none)) return false;
  }
  return true;
}

/// Feeds a frame stream to both handshake roles; they must end in a defined
/// state and never accept a peer without its proof.
inline bool check_handshake(std::span<const std::byte> data) {
  handshake_config cfg;
  cfg.node_name = "node-b";
  cfg.incarnation = 9;
  cfg.secret = "fuzz-secret";
  nonce fixed{};  // fixed: runs are reproducible
  for (auto role : {handshake::role::acceptor, handshake::role::initiator}) {
    handshake hs(role, cfg, fixed);
    std::vector<std::byte> out;
    hs.start(out);
    frame_decoder d;
    d.feed(data, [&](const frame& f) {
      hs.on_frame(f, out);
      return !hs.failed() && !hs.established();
    });
    // Alone against the input there is no honest counterpart to relay: any
    // success is a forgery.
    if (hs.established()) return false;
    // Everything we answered must itself be well-formed.
    frame_decoder check;
    if (check.feed(out, [](const frame&) {}) != decode_error::none ||
        check.finish() != decode_error::none)
      return false;
  }
  return true;
}

// -- several connections at once ------------------------------------------------
//
// Script: opcode byte (modulo script_op::count_), then its operands:
//   open       b            honest node b&1 (a/b), role (b&2 ? initiator : acceptor)
//   raw        k len bytes  frames parsed from `len` bytes, fed to session k
//   relay      k j m        the m-th frame session j sent, fed to session k
//   intro      k how [..]   a hello (how&16: challenge) named names[(how>>5)%3],
//                           incarnation 100/200/how&3 by how&3; nonce: how&4 ?
//                           (session byte; how&8 ? acceptor : initiator nonce of
//                           its transcript) : 32 bytes of the script
//   transplant k j m off x  32 bytes at off of session j's m-th frame body sent
//                           to k as a response (x&1: accept)
//
// The input is a script of an attacker's moves against two honest nodes,
// node-a and node-b, which share the secret the attacker does not know. It
// may open up to eight connections (each with one honest side, in either
// role, with a fresh nonce the attacker cannot choose), send any frame it
// likes (hello and challenge with names, incarnations and nonces of its
// choice, copies of the honest sides' nonces included), relay any frame an
// honest side sent to any other connection, and transplant any 32 bytes an
// honest side sent into a response or accept.
//
// The oracle: an honest side may end established only when another honest
// side, in the other role, saw exactly the same exchange (names,
// incarnations, nonces, version) — that is, the attacker was a wire between
// two honest nodes that agree on whom they talk to. Anything else is a peer
// authenticated without the secret.

/// Script opcodes (one byte, taken modulo the count); make_corpus.py writes
/// the seeds with the same numbers.
enum class script_op : std::uint8_t { open, raw, relay, intro, transplant, count_ };

template <class Handshake>
struct session {
  Handshake hs;
  struct sent {
    frame_kind kind;
    std::vector<std::byte> payload;
    std::vector<std::byte> bytes;  // as encoded
  };
  std::vector<sent> out;
};

class script_reader {
 public:
  explicit script_reader(std::span<const std::byte> s) : s_(s) {}
  bool more() const noexcept { return at_ < s_.size(); }
  std::uint8_t byte() noexcept { return more() ? std::to_integer<std::uint8_t>(s_[at_++]) : 0; }
  std::span<const std::byte> bytes(std::size_t n) noexcept {
    n = std::min(n, s_.size() - at_);
    auto r = s_.subspan(at_, n);
    at_ += n;
    return r;
  }

 private:
  std::span<const std::byte> s_;
  std::size_t at_ = 0;
};

inline bool same_exchange(const handshake_transcript& x, const handshake_transcript& y) {
  return x.version == y.version && x.initiator_name == y.initiator_name &&
         x.initiator_incarnation == y.initiator_incarnation &&
         x.initiator_nonce == y.initiator_nonce && x.acceptor_name == y.acceptor_name &&
         x.acceptor_incarnation == y.acceptor_incarnation && x.acceptor_nonce == y.acceptor_nonce;
}

/// Runs a script (see above) against `Handshake` (the real one, or a known-bad
/// variant in the tests). False when the oracle or a well-formedness check fails.
template <class Handshake = handshake>
bool check_handshake_sessions(std::span<const std::byte> script) {
  constexpr std::size_t max_sessions = 8;
  constexpr std::uint64_t incarnation_a = 100, incarnation_b = 200;
  const std::string names[] = {"node-a", "node-b", "mallory"};
  std::vector<std::unique_ptr<session<Handshake>>> sessions;
  bool well_formed = true;

  auto record = [&](session<Handshake>& s, const std::vector<std::byte>& bytes) {
    frame_decoder d;
    decode_error e = d.feed(bytes, [&](const frame& f) {
      std::vector<std::byte> one;
      encode_append(f, one);
      s.out.push_back({f.kind, {f.payload.begin(), f.payload.end()}, std::move(one)});
    });
    if (e != decode_error::none || d.finish() != decode_error::none) well_formed = false;
  };
  auto feed = [&](std::size_t k, std::span<const std::byte> bytes) {
    auto& s = *sessions[k];
    std::vector<std::byte> answer;
    frame_decoder d;
    d.feed(bytes, [&](const frame& f) {
      if (s.hs.failed() || s.hs.established()) return false;
      s.hs.on_frame(f, answer);
      return true;
    });
    record(s, answer);
  };
  auto feed_frame = [&](std::size_t k, const frame& f) {
    std::vector<std::byte> bytes;
    encode_append(f, bytes);
    feed(k, bytes);
  };

  script_reader in(script);
  while (in.more()) {
    auto op = static_cast<script_op>(in.byte() % static_cast<std::uint8_t>(script_op::count_));
    if (op == script_op::open) {
      std::uint8_t b = in.byte();
      if (sessions.size() == max_sessions) continue;
      bool is_b = b & 1;
      auto role = (b & 2) ? handshake::role::initiator : handshake::role::acceptor;
      handshake_config cfg;
      cfg.node_name = names[is_b];
      cfg.incarnation = is_b ? incarnation_b : incarnation_a;
      cfg.secret = "fuzz-secret";
      nonce n{};  // distinct per session and never all zero: the attacker cannot pick it
      n.fill(std::byte{0x5a});
      n[0] = std::byte(sessions.size() + 1);
      sessions.push_back(
          std::make_unique<session<Handshake>>(session<Handshake>{Handshake(role, cfg, n), {}}));
      std::vector<std::byte> hello;
      sessions.back()->hs.start(hello);
      record(*sessions.back(), hello);
      continue;
    }
    if (sessions.empty()) continue;
    std::size_t k = in.byte() % sessions.size();
    switch (op) {
      case script_op::raw: {
        std::size_t len = in.byte();
        feed(k, in.bytes(len));
        break;
      }
      case script_op::relay: {
        auto& from = *sessions[in.byte() % sessions.size()];
        std::uint8_t m = in.byte();
        if (!from.out.empty()) feed(k, from.out[m % from.out.size()].bytes);
        break;
      }
      case script_op::intro: {
        std::uint8_t how = in.byte();
        std::uint64_t inc = (how & 3) == 0   ? incarnation_a
                            : (how & 3) == 1 ? incarnation_b
                                             : (how & 3);
        nonce n{};
        if (how & 4) {  // a copy of a nonce some session has seen
          auto t = sessions[in.byte() % sessions.size()]->hs.transcript();
          n = (how & 8) ? t.acceptor_nonce : t.initiator_nonce;
        } else {
          auto chosen = in.bytes(n.size());
          std::memcpy(n.data(), chosen.data(), chosen.size());
        }
        std::array<std::byte, 48> body{};
        detail::store_u32(body.data(), protocol_magic);
        detail::store_u16(body.data() + 4, protocol_version);
        detail::store_u64(body.data() + 8, inc);
        std::memcpy(body.data() + 16, n.data(), n.size());
        frame f;
        f.kind = (how & 16) ? frame_kind::challenge : frame_kind::hello;
        f.sender_node = names[(how >> 5) % 3];
        f.payload = body;
        feed_frame(k, f);
        break;
      }
      case script_op::transplant: {
        auto& from = *sessions[in.byte() % sessions.size()];
        std::uint8_t m = in.byte(), off = in.byte(), kind = in.byte();
        if (from.out.empty()) break;
        const auto& p = from.out[m % from.out.size()].payload;
        if (p.size() < mac_size) break;
        frame f;
        f.kind = (kind & 1) ? frame_kind::accept : frame_kind::response;
        f.payload = std::span(p).subspan(off % (p.size() - mac_size + 1), mac_size);
        feed_frame(k, f);
        break;
      }
      default:
        break;
    }
  }

  if (!well_formed) return false;
  for (std::size_t i = 0; i < sessions.size(); ++i) {
    const auto& s = sessions[i]->hs;
    if (!s.established()) continue;
    bool wire = false;
    for (std::size_t j = 0; j < sessions.size() && !wire; ++j) {
      const auto& t = sessions[j]->hs;
      wire = j != i && t.side() != s.side() && same_exchange(s.transcript(), t.transcript());
    }
    if (!wire) return false;
  }
  return true;
}

}  // namespace volley::remote::fuzz
