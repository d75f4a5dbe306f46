// volley/remote/handshake.hpp — the connection handshake as a state machine.
//
// Before any actor traffic, two nodes agree on the protocol version, learn each
// other's name and incarnation, and prove to each other that they know the
// cluster's shared secret without sending it. The exchange (PROTOCOL.md §6.1):
//
//   initiator                                   acceptor
//   hello     {version, name_i, inc_i, Ni}   ->
//                                            <- challenge {version, name_a, inc_a, Na}
//   response  {HMAC(secret, "initiator" || T)} ->
//                                            <- accept {HMAC(secret, "acceptor" || T)}
//
//   T = version || name_i || inc_i || Ni || name_a || inc_a || Na
//       [|| len || B]   (B: the TLS exporter, only when TLS is on)
//       (names length-prefixed, integers little-endian)
//
// Why it holds (the full argument is in PROTOCOL.md §6.1.1):
//  * Each proof covers the whole exchange — both nonces, both names, both
//    incarnations and the version — under a label naming the prover's role,
//    so a proof made for one connection, one pair of nodes or one role is
//    worth nothing anywhere else.
//  * Neither side proves anything before the other side's nonce is fixed:
//    the initiator proves after the challenge (Na is known), the acceptor
//    only after it has checked the initiator's proof. So an attacker without
//    the secret never obtains an acceptor proof at all, and an initiator
//    proof only over a nonce that an honest initiator drew itself.
//  * On a reconnect the initiator names the node it expects
//    (handshake_config::expected_peer) and refuses any other before it
//    proves anything.
// Tags are compared with CRYPTO_memcmp (constant time). Any failure sends a
// `reject` with a reason code and text; the caller then closes the connection.
//
// One association per node pair (PROTOCOL.md §6.6): just before a side
// proves itself (initiator: on challenge; acceptor: on a verified response)
// it asks handshake_config::gate whether this connection may go on; the
// transport answers from its other connections to the same node (arbitrate).
// A held handshake sends nothing until resume(); a refused one rejects with
// simultaneous_connect.
//
// The class does no I/O: feed it decoded frames, send what it appends to the
// output buffer. That keeps it testable and fuzzable without sockets.
#pragma once

#include <volley/remote/wire.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace volley::remote {

using nonce = std::array<std::byte, nonce_size>;
using mac_tag = std::array<std::byte, mac_size>;

/// A random non-zero u64 (OpenSSL RAND_bytes); use one per process start as the
/// node's incarnation, so a restarted peer is recognised as a new node.
std::uint64_t random_incarnation();
/// A fresh random nonce (OpenSSL RAND_bytes).
nonce random_nonce();

/// Which side of the handshake made a proof; part of what the proof covers.
enum class proof_role : std::uint8_t { initiator, acceptor };

/// Everything a handshake proof is bound to (PROTOCOL.md §6.1).
struct handshake_transcript {
  std::uint16_t version = protocol_version;
  std::string_view initiator_name;
  std::uint64_t initiator_incarnation = 0;
  nonce initiator_nonce{};
  std::string_view acceptor_name;
  std::uint64_t acceptor_incarnation = 0;
  nonce acceptor_nonce{};
  /// Keying material of the channel the handshake runs in (the TLS
  /// exporter); empty on a plaintext connection, and then not part of the
  /// message at all, so plaintext proofs are the same bytes as before TLS.
  std::span<const std::byte> channel_binding;
};

/// The bytes a proof is computed over: the role's label, then the transcript,
/// every variable-length field prefixed with its u16 length.
std::vector<std::byte> proof_message(proof_role role, const handshake_transcript& t);
/// HMAC-SHA256(secret, proof_message(role, t)).
mac_tag handshake_proof(std::string_view secret, proof_role role, const handshake_transcript& t);

/// Reason codes carried in reject and close frames (u16 on the wire).
enum class reject_reason : std::uint16_t {
  version_mismatch = 1,
  bad_magic = 2,
  authentication_failed = 3,
  protocol_violation = 4,  ///< unexpected frame for the handshake state
  self_connection = 5,     ///< peer claims our own name and incarnation
  malformed_body = 6,      ///< body of a handshake frame has the wrong size
  unexpected_peer = 7,     ///< the acceptor is not the node the initiator meant to reach
  /// Another connection between the same two nodes is kept instead
  /// (simultaneous connect, PROTOCOL.md §6.6): not a failure for the caller,
  /// whose frames ride on the connection kept.
  simultaneous_connect = 8,
};
std::string_view to_string(reject_reason r) noexcept;

/// The RFC 8446 exporter label whose 32 bytes become
/// handshake_config::channel_binding on a TLS connection.
inline constexpr std::string_view tls_binding_label = "volley handshake v2";

// -- one association per node pair (PROTOCOL.md §6.6) -------------------------

/// A node as arbitration compares it: its name, then its incarnation.
struct node_identity {
  std::string_view name;
  std::uint64_t incarnation = 0;
};
/// The order arbitration uses: by name (bytes), then by incarnation.
bool precedes(const node_identity& a, const node_identity& b) noexcept;

/// One connection between this node and a peer, as arbitration sees it.
struct contender {
  bool outbound = false;     ///< this node initiated it
  bool established = false;  ///< authenticated and up (on this side)
  /// Order in which this side reached the connection's gate (below); only
  /// compared between two connections this node initiated.
  std::uint64_t gate_order = 0;
};

/// Whether connection `a` is kept over `b`, both between `us` and the same
/// `peer` (same name and incarnation). Opposite directions: the one whose
/// initiator precedes the other node. Both ours: the one that reached its
/// gate first (we decide; the peer sees two inbound connections and leaves
/// it to us). Both the peer's: neither (the peer decides).
bool keeps_over(const contender& a, const contender& b, const node_identity& us,
                const node_identity& peer) noexcept;

/// What a connection may do at its gate: the point just before this side
/// proves itself (initiator: on challenge; acceptor: on a verified response).
enum class gate_verdict : std::uint8_t {
  proceed,  ///< no connection to the same peer is kept over it
  hold,     ///< one kept over it is still handshaking: wait for its outcome
  refuse,   ///< one kept over it is established: reject simultaneous_connect
};
/// The verdict for `c` against the other live connections to the same peer.
/// A connection waits only for ones kept over it, and `keeps_over` is a
/// strict order, so waits never form a cycle.
gate_verdict arbitrate(const contender& c, std::span<const contender> others,
                       const node_identity& us, const node_identity& peer) noexcept;

/// What we learned about the other side.
struct peer_identity {
  std::string name;
  std::uint64_t incarnation = 0;
};

/// Who we are and what we share with the cluster.
struct handshake_config {
  std::string node_name;
  std::uint64_t incarnation = 0;
  std::string secret;
  /// Initiator only: the node name it means to reach (a reconnect names the
  /// node that answered before). Empty: whoever answers. A different name is
  /// refused before this side proves anything.
  std::string expected_peer;
  /// With TLS: 32 bytes from tls_session::exporter("volley handshake v2"),
  /// equal on both ends of one TLS session and unrelated across sessions.
  /// Both proofs cover it, so a proof made in one TLS session is worthless
  /// in any other (PROTOCOL.md §6.1.1). Empty on a plaintext connection.
  std::vector<std::byte> channel_binding;
  /// Version we announce and accept; only tests change it.
  std::uint16_t version = protocol_version;
  /// Asked at the gate, with the peer's identity known: may this connection
  /// go on (see gate_verdict)? The transport answers it from its other
  /// connections to the same node. Empty: always proceed.
  std::function<gate_verdict(const peer_identity&)> gate;
};

class handshake {
 public:
  enum class role { initiator, acceptor };
  enum class state {
    awaiting_hello,
    awaiting_challenge,
    awaiting_response,
    awaiting_accept,
    /// At the gate, told to wait (gate_verdict::hold); resume() goes on.
    held,
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

  /// A held handshake goes on (`proceed`: sends the proof it held back).
  /// `proceed` false ends any handshake not yet established with reject
  /// simultaneous_connect (held, or one that a connection kept over it
  /// overtook). Returns the new state.
  state resume(bool proceed, std::vector<std::byte>& out);

  state current() const noexcept { return state_; }
  bool established() const noexcept { return state_ == state::established; }
  bool failed() const noexcept { return state_ == state::failed; }
  /// Why the handshake failed (for the log), empty otherwise. It says which
  /// side refused: "this node rejected ..." or "rejected by peer ...".
  const std::string& failure() const noexcept { return failure_; }
  /// True when the failure came from the peer's reject, not from our checks.
  bool rejected_by_peer() const noexcept { return rejected_by_peer_; }
  /// The reason code of the failure (ours or the peer's); 0 when none.
  std::uint16_t failure_code() const noexcept { return failure_code_; }
  const peer_identity& peer() const noexcept { return peer_; }
  /// The exchange as this side sees it (the peer's fields are zero until its
  /// hello or challenge came): what tests and the fuzzer compare across sides.
  handshake_transcript transcript() const;
  role side() const noexcept { return role_; }

 private:
  state fail(reject_reason reason, std::string text, std::vector<std::byte>& out);
  state on_hello(const frame& f, std::vector<std::byte>& out);
  state on_challenge(const frame& f, std::vector<std::byte>& out);
  state on_response(const frame& f, std::vector<std::byte>& out);
  state on_accept(const frame& f, std::vector<std::byte>& out);
  /// Parses the introduction of hello and challenge; fails on error.
  bool read_intro(const frame& f, nonce& peer_nonce, std::vector<std::byte>& out);
  void write_intro(frame_kind kind, std::vector<std::byte>& out) const;
  void write_proof(frame_kind kind, proof_role r, std::vector<std::byte>& out) const;
  /// Checks the peer's proof (a 32-byte body) in constant time.
  bool check_proof(const frame& f, proof_role r) const;
  /// Asks the gate and proves (or holds, or refuses) accordingly.
  state pass_gate(std::vector<std::byte>& out);
  state prove(std::vector<std::byte>& out);

  role role_;
  handshake_config config_;
  nonce our_nonce_;
  nonce peer_nonce_{};
  peer_identity peer_;
  state state_;
  std::string failure_;
  std::uint16_t failure_code_ = 0;
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
