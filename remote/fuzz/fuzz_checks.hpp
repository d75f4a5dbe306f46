// Checks shared by the libFuzzer targets and the corpus test
// (tests/remote/decoder_corpus_test.cpp), so that normal CI runs the same
// oracles over the seed corpus and random bytes that the fuzzers run over
// their mutations. Each returns false when an invariant breaks; crashing,
// overflowing or leaking is caught by the sanitizers around them.
#pragma once

#include <volley/remote/frame_codec.hpp>
#include <volley/remote/handshake.hpp>

#include <cstddef>
#include <span>
#include <vector>

namespace volley::remote::fuzz {

struct decode_outcome {
  decode_error error = decode_error::none;
  std::vector<std::byte> reencoded;  ///< every delivered frame, encoded again
  std::size_t frames = 0;
};

inline decode_outcome decode_in_chunks(std::span<const std::byte> data, std::size_t chunk,
                                       frame_limits limits) {
  decode_outcome out;
  frame_decoder d(limits);
  for (std::size_t at = 0; at < data.size() && out.error == decode_error::none; at += chunk) {
    auto piece = data.subspan(at, std::min(chunk, data.size() - at));
    out.error = d.feed(piece, [&](const frame& f) {
      ++out.frames;
      encode_append(f, out.reencoded);
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
  if (whole.reencoded.size() > data.size()) return false;
  if (!std::equal(whole.reencoded.begin(), whole.reencoded.end(), data.begin())) return false;
  for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{32}, std::size_t{333}}) {
    decode_outcome split = decode_in_chunks(data, chunk, limits);
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
    // Reaching "established" needs a correct HMAC from a fixed nonce the input
    // cannot have computed... except by replaying the acceptor's own proof,
    // which self_connection refuses. Any success here is a forgery.
    if (hs.established()) return false;
    // Everything we answered must itself be well-formed.
    frame_decoder check;
    if (check.feed(out, [](const frame&) {}) != decode_error::none ||
        check.finish() != decode_error::none)
      return false;
  }
  return true;
}

}  // namespace volley::remote::fuzz
