// TLS 1.3 on memory BIOs: one connection's encryption, with no socket.
//
// The transport owns the socket and does every read and write through
// io_uring; OpenSSL only turns bytes into other bytes. Received ciphertext
// goes in with feed(); receive() drives the handshake and then returns the
// plaintext it can decrypt; send() encrypts; take_output() hands over the
// ciphertext (handshake records included) that must be written to the socket.
// Nothing here blocks or does I/O, so it runs on the transport thread.
//
// Authentication is mutual and bound to node names: both sides must present
// a certificate signed by the configured CA, and after the shared-secret
// handshake names the peer, the transport checks peer_is(name) (the
// certificate's subjectAltName DNS entries, or its common name). exporter()
// gives keying material unique to this TLS session; the shared-secret
// handshake mixes it into its proofs, so a proof made inside one TLS session
// is worthless in another (a relay through two TLS sessions fails).
//
// Private to volley::remote. A session is touched by one thread at a time.
#pragma once

#include <volley/remote/tls.hpp>

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct ssl_ctx_st;
struct ssl_st;
struct bio_st;

namespace volley::remote::detail {

/// The node-wide TLS settings (an OpenSSL SSL_CTX): TLS 1.3 only, peer
/// certificate required on both sides, verified against the CA.
class tls_context {
 public:
  /// Loads the files of `cfg`. Throws std::invalid_argument naming the file
  /// and what to fix when anything is missing, unreadable or inconsistent.
  explicit tls_context(const tls_config& cfg);
  ~tls_context();
  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  ssl_ctx_st* native() const noexcept { return ctx_; }

 private:
  ssl_ctx_st* ctx_ = nullptr;
};

class tls_session {
 public:
  enum class role { caller, acceptor };
  enum class status {
    ok,      ///< progress made or more input needed; not an error
    closed,  ///< the peer closed the TLS session cleanly
    failed,  ///< the session is dead; error() says why
  };

  tls_session(const tls_context& ctx, role r);
  ~tls_session();
  tls_session(const tls_session&) = delete;
  tls_session& operator=(const tls_session&) = delete;

  /// Ciphertext received from the socket, in order.
  void feed(std::span<const std::byte> ciphertext);

  /// Advances the handshake with what was fed, then appends every plaintext
  /// byte it can decrypt to `plaintext`. A caller calls it once right after
  /// construction (with nothing fed) to produce its ClientHello.
  status receive(std::vector<std::byte>& plaintext);

  /// Encrypts `plaintext` (only once handshake_done()); the records wait in
  /// the output for take_output().
  status send(std::span<const std::byte> plaintext);

  /// Moves the ciphertext waiting to be written (appends to `out`).
  void take_output(std::vector<std::byte>& out);
  bool has_output() const noexcept;

  bool handshake_done() const noexcept { return handshake_done_; }

  /// Why the session failed ("peer certificate refused: certificate has
  /// expired", "TLS handshake failed: wrong version number ..."); empty
  /// while it has not.
  const std::string& error() const noexcept { return error_; }

  /// After the handshake: does the peer's certificate name `node_name`?
  bool peer_is(std::string_view node_name) const;

  /// After the handshake: keying material unique to this session and
  /// `label` (RFC 8446 exporter; equal on both ends). 32 bytes, the size of
  /// the HMAC-SHA256 tag the handshake's proofs are: a longer binding would
  /// not make a proof harder to forge.
  static constexpr std::size_t exporter_size = 32;
  std::array<std::byte, exporter_size> exporter(std::string_view label) const;

 private:
  status fail(std::string_view what, int ssl_result);

  ssl_st* ssl_ = nullptr;
  bio_st* in_ = nullptr;   // ciphertext from the peer (we write, OpenSSL reads)
  bio_st* out_ = nullptr;  // ciphertext to the peer (OpenSSL writes, we read)
  bool handshake_done_ = false;
  std::string error_;
};

}  // namespace volley::remote::detail
