// TLS 1.3 on memory BIOs; see tls_session.hpp.
#include "tls_session.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace volley::remote::detail {

namespace {

/// The newest OpenSSL error on this thread's queue, as text; clears the queue
/// so a later failure does not report this one.
std::string openssl_reason() {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "no reason given by OpenSSL";
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : "OpenSSL error " + std::to_string(code);
}

// The most bytes handed to BIO_write or SSL_write at once: they take an
// int length, so a span is fed in pieces that fit one. 1 MiB: far below
// INT_MAX, and a batch (256 KiB at most, connection.hpp) still goes in one.
constexpr std::size_t max_piece = std::size_t{1} << 20;

[[noreturn]] void refuse(const std::string& what) {
  throw std::invalid_argument("tls_config: " + what);
}

}  // namespace

tls_context::tls_context(const tls_config& cfg) {
  if (cfg.certificate.empty() || cfg.private_key.empty() || cfg.ca.empty()) {
    refuse(
        "TLS needs all three of certificate, private_key and ca (PEM file paths); set the "
        "missing ones, or none of them for a plaintext node");
  }
  ERR_clear_error();
  ctx_ = SSL_CTX_new(TLS_method());
  if (ctx_ == nullptr) refuse("cannot create an OpenSSL context: " + openssl_reason());
  // TLS 1.3 only: no version negotiation to downgrade, and the exporter the
  // shared-secret handshake binds to is the RFC 8446 one.
  SSL_CTX_set_min_proto_version(ctx_, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx_, TLS1_3_VERSION);
  // Both sides must show a certificate the CA signed. Which *name* it must
  // carry is checked after the shared-secret handshake says which node the
  // peer claims to be (peer_is).
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  // No session resumption: a resumed session would skip the certificate
  // check that binds the peer's name.
  SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx_, 0);
  SSL_CTX_set_options(ctx_, SSL_OP_NO_TICKET);

  auto cleanup_and_refuse = [this](const std::string& what) {
    SSL_CTX_free(ctx_);
    ctx_ = nullptr;
    refuse(what);
  };
  if (SSL_CTX_use_certificate_chain_file(ctx_, cfg.certificate.c_str()) != 1) {
    cleanup_and_refuse("cannot use certificate '" + cfg.certificate + "': " + openssl_reason() +
                       " (it must be a readable PEM certificate, chain after it)");
  }
  if (SSL_CTX_use_PrivateKey_file(ctx_, cfg.private_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    std::string reason = openssl_reason();
    if (mismatch) {
      cleanup_and_refuse("private key '" + cfg.private_key + "' does not match certificate '" +
                         cfg.certificate + "'");
    }
    cleanup_and_refuse("cannot use private key '" + cfg.private_key + "': " + reason +
                       " (it must be a readable, unencrypted PEM key)");
  }
  if (SSL_CTX_check_private_key(ctx_) != 1) {
    cleanup_and_refuse("private key '" + cfg.private_key + "' does not match certificate '" +
                       cfg.certificate + "'");
  }
  if (SSL_CTX_load_verify_locations(ctx_, cfg.ca.c_str(), nullptr) != 1) {
    cleanup_and_refuse("cannot load CA certificates from '" + cfg.ca + "': " + openssl_reason() +
                       " (it must be a readable PEM file with at least one certificate)");
  }
}

tls_context::~tls_context() {
  SSL_CTX_free(ctx_);
}

tls_session::tls_session(const tls_context& ctx, role r) {
  ssl_ = SSL_new(ctx.native());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || in_ == nullptr || out_ == nullptr) {
    SSL_free(ssl_);
    BIO_free(in_);
    BIO_free(out_);
    throw std::bad_alloc();
  }
  // An empty memory BIO reads as "retry later", not as end of file.
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_, in_, out_);  // the SSL owns both BIOs from here
  if (r == role::caller) {
    SSL_set_connect_state(ssl_);
  } else {
    SSL_set_accept_state(ssl_);
  }
}

tls_session::~tls_session() {
  SSL_free(ssl_);
}

void tls_session::feed(std::span<const std::byte> ciphertext) {
  while (!ciphertext.empty()) {
    int chunk = static_cast<int>(std::min(ciphertext.size(), max_piece));
    int n = BIO_write(in_, ciphertext.data(), chunk);
    if (n <= 0) throw std::bad_alloc();  // a memory BIO only fails to grow
    ciphertext = ciphertext.subspan(static_cast<std::size_t>(n));
  }
}

tls_session::status tls_session::fail(std::string_view what, int ssl_result) {
  int code = SSL_get_error(ssl_, ssl_result);
  if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) return status::ok;
  if (code == SSL_ERROR_ZERO_RETURN) return status::closed;
  if (error_.empty()) {
    long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) {
      error_ = "peer certificate refused: ";
      error_ += X509_verify_cert_error_string(verify);
      ERR_clear_error();
    } else {
      error_ = std::string(what) + ": " + openssl_reason();
    }
  }
  return status::failed;
}

tls_session::status tls_session::receive(std::vector<std::byte>& plaintext) {
  if (!error_.empty()) return status::failed;
  if (!handshake_done_) {
    int r = SSL_do_handshake(ssl_);
    if (r != 1) return fail("TLS handshake failed (is the peer a TLS node of this cluster?)", r);
    handshake_done_ = true;
  }
  std::byte buffer[16 * 1024];  // one TLS record's worth of plaintext at most
  for (;;) {
    int r = SSL_read(ssl_, buffer, sizeof buffer);
    if (r <= 0) return fail("TLS read failed", r);
    plaintext.insert(plaintext.end(), buffer, buffer + r);
  }
}

tls_session::status tls_session::send(std::span<const std::byte> plaintext) {
  if (!error_.empty()) return status::failed;
  if (!handshake_done_) {
    error_ = "TLS send before the handshake completed";
    return status::failed;
  }
  while (!plaintext.empty()) {
    int chunk = static_cast<int>(std::min(plaintext.size(), max_piece));
    int r = SSL_write(ssl_, plaintext.data(), chunk);
    if (r <= 0) {
      status s = fail("TLS write failed", r);
      // A memory BIO never pushes back, so "retry" cannot happen here; treat
      // it as the failure it would be.
      if (s == status::ok) error_ = "TLS write made no progress";
      return status::failed;
    }
    plaintext = plaintext.subspan(static_cast<std::size_t>(r));
  }
  return status::ok;
}

bool tls_session::has_output() const noexcept {
  return BIO_ctrl_pending(out_) > 0;
}

void tls_session::take_output(std::vector<std::byte>& out) {
  std::size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) return;
  std::size_t at = out.size();
  out.resize(at + pending);
  int n = BIO_read(out_, out.data() + at, static_cast<int>(pending));
  out.resize(at + static_cast<std::size_t>(n > 0 ? n : 0));
}

bool tls_session::peer_is(std::string_view node_name) const {
  if (!handshake_done_) return false;
  X509* peer = SSL_get0_peer_certificate(ssl_);
  if (peer == nullptr) return false;
  // Exact names only: a wildcard certificate must not speak for every node.
  unsigned flags = X509_CHECK_FLAG_NO_WILDCARDS;
  return X509_check_host(peer, node_name.data(), node_name.size(), flags, nullptr) == 1;
}

std::array<std::byte, tls_session::exporter_size> tls_session::exporter(
    std::string_view label) const {
  std::array<std::byte, exporter_size> out{};
  if (!handshake_done_ ||
      SSL_export_keying_material(ssl_, reinterpret_cast<unsigned char*>(out.data()), out.size(),
                                 label.data(), label.size(), nullptr, 0, 0) != 1) {
    throw std::logic_error("tls_session::exporter before the handshake completed");
  }
  return out;
}

}  // namespace volley::remote::detail
