// volley/remote/tls.hpp — TLS 1.3 between nodes: configuration.
//
//     volley::remote::node_config cfg{.name = "orders-1", .secret = "s3cret"};
//     cfg.tls = {.certificate = "/etc/volley/orders-1.pem",   // leaf (+ chain), PEM
//                .private_key = "/etc/volley/orders-1.key",   // PEM
//                .ca = "/etc/volley/cluster-ca.pem"};         // who may sign peers
//
// With TLS on, every connection of the node is TLS 1.3 with mutual
// certificate authentication: each side presents a certificate signed by the
// configured CA, and a certificate is accepted only for the node name it
// names (subjectAltName DNS entry, or the common name when there is none).
// The shared-secret handshake still runs inside TLS and is bound to the TLS
// session through a keying-material exporter, so a stolen certificate alone
// does not admit anyone to the cluster, and neither does the secret alone.
// A node with TLS on refuses plaintext peers and the other way round.
//
// Encryption runs in user space on the transport thread (OpenSSL with memory
// BIOs), so io_uring still does all socket I/O. kTLS is not used: it would
// need OpenSSL to own the socket, which the io_uring transport does not give
// it (see PROTOCOL.md).
#pragma once

#include <string>

namespace volley::remote {

/// Paths of the PEM files that turn TLS on; all three empty = plaintext.
/// A partly filled config, an unreadable file, a key that does not match its
/// certificate or a CA file without certificates fails the node at start
/// with a message naming the file and what is wrong with it.
struct tls_config {
  std::string certificate;  ///< this node's certificate (PEM; a chain may follow)
  std::string private_key;  ///< its private key (PEM, unencrypted)
  std::string ca;           ///< CA certificates that sign the cluster's nodes (PEM)

  bool enabled() const noexcept {
    return !certificate.empty() || !private_key.empty() || !ca.empty();
  }
};

}  // namespace volley::remote
