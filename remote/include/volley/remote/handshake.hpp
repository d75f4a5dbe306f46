// volley/remote/handshake.hpp — the connection handshake as a state machine.
//
// Before any actor traffic, two nodes agree on the protocol version, learn each
// other's name and incarnation, and prove to each other that they know the
// cluster's shared secret without sending it. The exchange (PROTOCOL.md,
// "Handshake"):
//
//   initiator                                  acceptor
//   hello {version, incarnation, name, Ni}  ->
//                                           <- challenge {version, incarnation, name, Na,
//                                                         HMAC(secret, Ni || name_a || inc_a)}
//   response {HMAC(secret, Na || name_i || inc_i)} ->
//                                           <- accept
//
// The initiator checks the acceptor's proof before it gives its own, so both
// sides are authenticated and neither answers for a nonce it chose. Tags are
// compared with CRYPTO_memcmp (constant time). Any failure sends a `reject`
// with a reason code and text; the caller then closes the connection.
//
// The class does no I/O: feed it decoded frames, send what it appends to the
// output buffer. That keeps it testable and fuzzable without sockets.
#pragma once

#include <volley/remote/wire.hpp>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace volley::remote {

using nonce = std::array<std::byte, nonce_size>;
using mac_tag = std::array<std::byte, mac_size>;

/// A random non-zero u64 (OpenSSL RAND_bytes); use one per process start as the
/// node's incarnation, so a restarted peer is recognised as a new node.
std::uint64_t random_incarnation();
/// A fresh random nonce (OpenSSL RAND_bytes).
nonce random_nonce();
/// HMAC-SHA256(secret, nonce || name || incarnation as u64 LE): the proof a node
/// gives for the other side's nonce.
mac_tag handshake_proof(std::string_view secret, const nonce& n, std::string_view name,
                        std::uint64_t incarnation);

/// Reason codes carried in reject and close frames (u16 on the wire).
enum class reject_reason : std::uint16_t {
  version_mismatch = 1,
  bad_magic = 2,
  authentication_failed = 3,
  protocol_violation = 4,  ///< unexpected frame for the handshake state
  self_connection = 5,     ///< peer claims our own name and incarnation
  malformed_body = 6,      ///< body of a handshake frame has the wrong size
};
std::string_view to_string(reject_reason r) noexcept;

/// Who we are and what we share with the cluster.
struct handshake_config {
  std::string node_name;
  std::uint64_t incarnation = 0;
  std::string secret;
  /// Version we announce and accept; only tests change it.
  std::uint16_t version = protocol_version;
};

/// What we learned about the other side.
struct peer_identity {
  std::string name;
  std::uint64_t incarnation = 0;
};

class handshake {
 public:
  enum class role { initiator, acceptor };
  enum class state {
    awaiting_hello,
    awaiting_challenge,
    awaiting_response,
    awaiting_accept,
    established,
    failed
  };

  /// `our_nonce` is random unless a test or fuzzer fixes it.
  handshake(role r, handshake_config config, nonce our_nonce = random_nonce());

  /// Initiator: appends the hello to `out`. Acceptor: nothing to send.
  void start(std::vector<std::byte>& out);

  /// Feeds one frame that arrived before the handshake completed and appends
  /// the answer, if any, to `out`. Returns the new state.
  state on_frame(const frame& f, std::vector<std::byte>& out);

  state current() const noexcept { return state_; }
  bool established() const noexcept { return state_ == state::established; }
  bool failed() const noexcept { return state_ == state::failed; }
  /// Why the handshake failed (for the log), empty otherwise.
  const std::string& failure() const noexcept { return failure_; }
  /// True when the failure came from the peer's reject, not from our checks.
  bool rejected_by_peer() const noexcept { return rejected_by_peer_; }
  const peer_identity& peer() const noexcept { return peer_; }

 private:
  state fail(reject_reason reason, std::string text, std::vector<std::byte>& out);
  state on_hello(const frame& f, std::vector<std::byte>& out);
  state on_challenge(const frame& f, std::vector<std::byte>& out);
  state on_response(const frame& f, std::vector<std::byte>& out);
  /// Parses the introduction shared by hello and challenge; fails on error.
  bool read_intro(const frame& f, std::size_t body_size, nonce& peer_nonce,
                  std::vector<std::byte>& out);
  void write_intro(frame_kind kind, const mac_tag* proof, std::vector<std::byte>& out) const;

  role role_;
  handshake_config config_;
  nonce our_nonce_;
  nonce peer_nonce_{};
  peer_identity peer_;
  state state_;
  std::string failure_;
  bool rejected_by_peer_ = false;
};

/// Appends a reject or close frame (`kind`) carrying a reason code and text.
void encode_reason_frame(frame_kind kind, std::uint16_t code, std::string_view text,
                         std::vector<std::byte>& out);
/// Reads the reason code and text of a reject or close frame.
struct reason_body {
  std::uint16_t code = 0;
  std::string_view text;
};
reason_body decode_reason_body(std::span<const std::byte> payload) noexcept;

}  // namespace volley::remote
