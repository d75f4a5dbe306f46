// Certificates for the TLS tests, made at test time with the OpenSSL API
// (never committed). The API, not the openssl CLI, because only the API can
// backdate a certificate far enough to make an expired one.
//
//     test_pki pki;                                   // a temporary directory
//     auto ca = pki.make_ca("cluster-ca");
//     auto a = pki.make_node(ca, "node-a");           // signed by ca, SAN DNS:node-a
//     volley::remote::tls_config cfg = pki.config(a, ca);
#pragma once

#include <volley/remote/tls.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace volley::remote::testing {

struct issued {
  std::string name;
  std::string certificate_path;
  std::string key_path;
  std::shared_ptr<EVP_PKEY> key;
  std::shared_ptr<X509> certificate;
};

class test_pki {
 public:
  test_pki() {
    std::string pattern = (std::filesystem::temp_directory_path() / "volley-pki-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
  }
  ~test_pki() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  test_pki(const test_pki&) = delete;
  test_pki& operator=(const test_pki&) = delete;

  const std::filesystem::path& dir() const { return dir_; }

  /// A self-signed CA certificate.
  issued make_ca(const std::string& name) { return issue(name, nullptr, true, 0, 3650); }

  /// A node certificate for `name` (subjectAltName DNS:name), signed by `ca`,
  /// valid from `from_days` to `to_days` relative to now (negative = past).
  issued make_node(const issued& ca, const std::string& name, long from_days = -1,
                   long to_days = 365) {
    return issue(name, &ca, false, from_days, to_days);
  }

  static tls_config config(const issued& node, const issued& ca) {
    return tls_config{.certificate = node.certificate_path,
                      .private_key = node.key_path,
                      .ca = ca.certificate_path};
  }

  /// A file with arbitrary contents in the PKI directory.
  std::string write_file(const std::string& file, const std::string& contents) {
    auto path = (dir_ / file).string();
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) throw std::runtime_error("cannot write " + path);
    std::fputs(contents.c_str(), f);
    std::fclose(f);
    return path;
  }

 private:
  issued issue(const std::string& name, const issued* ca, bool is_ca, long from_days,
               long to_days) {
    issued out;
    out.name = name;
    out.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
    if (!out.key) throw std::runtime_error("key generation failed");
    out.certificate.reset(X509_new(), X509_free);
    X509* x = out.certificate.get();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(++serial_));
    constexpr long day = 24 * 3600;
    X509_gmtime_adj(X509_getm_notBefore(x), from_days * day);
    X509_gmtime_adj(X509_getm_notAfter(x), to_days * day);
    X509_set_pubkey(x, out.key.get());
    X509_NAME* subject = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
    X509* issuer_cert = ca != nullptr ? ca->certificate.get() : x;
    X509_set_issuer_name(x, X509_get_subject_name(issuer_cert));

    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer_cert, x, nullptr, nullptr, 0);
    auto add_ext = [&](int nid, const std::string& value) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
      if (ext == nullptr) throw std::runtime_error("bad extension " + value);
      X509_add_ext(x, ext, -1);
      X509_EXTENSION_free(ext);
    };
    if (is_ca) {
      add_ext(NID_basic_constraints, "critical,CA:TRUE");
      add_ext(NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
      add_ext(NID_basic_constraints, "critical,CA:FALSE");
      add_ext(NID_key_usage, "critical,digitalSignature");
      add_ext(NID_ext_key_usage, "serverAuth,clientAuth");
      add_ext(NID_subject_alt_name, "DNS:" + name);
    }
    EVP_PKEY* signer = ca != nullptr ? ca->key.get() : out.key.get();
    if (X509_sign(x, signer, EVP_sha256()) == 0) throw std::runtime_error("signing failed");

    out.certificate_path = (dir_ / (name + ".pem")).string();
    out.key_path = (dir_ / (name + ".key")).string();
    std::FILE* f = std::fopen(out.certificate_path.c_str(), "w");
    PEM_write_X509(f, x);
    std::fclose(f);
    f = std::fopen(out.key_path.c_str(), "w");
    PEM_write_PrivateKey(f, out.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    return out;
  }

  std::filesystem::path dir_;
  unsigned serial_ = 0;
};

}  // namespace volley::remote::testing
