// The handshake fuzzer's many-connection oracle (remote/fuzz/fuzz_checks.hpp,
// check_handshake_sessions) run in every build: over the committed scripts,
// over random scripts, and against a known-bad variant — version 1's
// handshake, kept here — which it must catch, or it proves nothing.
#include "../../remote/fuzz/fuzz_checks.hpp"
#include "corpus_file.hpp"

#include <volley/remote/frame_codec.hpp>
#include <volley/remote/handshake.hpp>

#include <catch2/catch.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

using namespace volley::remote;
namespace fs = std::filesystem;
using volley::remote::test::read_corpus_file;

namespace {

std::vector<std::byte> seed(const std::string& name) {
  auto bytes = read_corpus_file(fs::path(VOLLEY_REMOTE_CORPUS_DIR) / "handshake" / name);
  REQUIRE_FALSE(bytes.empty());
  return bytes;
}

/// Version 1's handshake, flaws included: the acceptor proves in its
/// challenge, over the initiator's nonce alone, before the initiator has
/// proved anything; proofs name only the prover and carry no role.
class version1_handshake {
 public:
  version1_handshake(handshake::role r, handshake_config c, nonce n)
      : role_(r), cfg_(std::move(c)), ours_(n) {}

  void start(std::vector<std::byte>& out) {
    if (role_ == handshake::role::initiator) intro(frame_kind::hello, nullptr, out);
  }
  void on_frame(const frame& f, std::vector<std::byte>& out) {
    if (done_ || failed_) return;
    if (role_ == handshake::role::acceptor && f.kind == frame_kind::hello && !read(f, 48)) {
      mac_tag p = proof(theirs_, cfg_.node_name, cfg_.incarnation);
      intro(frame_kind::challenge, &p, out);
    } else if (role_ == handshake::role::initiator && f.kind == frame_kind::challenge &&
               !read(f, 80)) {
      if (!equal(f.payload.data() + 48, proof(ours_, peer_, peer_inc_))) return fail();
      mac_tag p = proof(theirs_, cfg_.node_name, cfg_.incarnation);
      frame r;
      r.kind = frame_kind::response;
      r.payload = p;
      encode_append(r, out);
    } else if (role_ == handshake::role::acceptor && f.kind == frame_kind::response &&
               f.payload.size() == 32) {
      if (!equal(f.payload.data(), proof(ours_, peer_, peer_inc_))) return fail();
      frame a;
      a.kind = frame_kind::accept;
      encode_append(a, out);
      done_ = true;
    } else if (role_ == handshake::role::initiator && f.kind == frame_kind::accept) {
      done_ = true;
    } else if (f.kind != frame_kind::hello && f.kind != frame_kind::challenge) {
      fail();
    }
  }
  bool established() const { return done_; }
  bool failed() const { return failed_; }
  handshake::role side() const { return role_; }
  handshake_transcript transcript() const {
    handshake_transcript t;
    bool i = role_ == handshake::role::initiator;
    t.initiator_name = i ? std::string_view(cfg_.node_name) : peer_;
    t.initiator_incarnation = i ? cfg_.incarnation : peer_inc_;
    t.initiator_nonce = i ? ours_ : theirs_;
    t.acceptor_name = i ? std::string_view(peer_) : cfg_.node_name;
    t.acceptor_incarnation = i ? peer_inc_ : cfg_.incarnation;
    t.acceptor_nonce = i ? theirs_ : ours_;
    return t;
  }

 private:
  void fail() { failed_ = true; }
  /// True on failure.
  bool read(const frame& f, std::size_t size) {
    if (f.payload.size() != size) return fail(), true;
    peer_.assign(f.sender_node);
    peer_inc_ = detail::load_u64(f.payload.data() + 8);
    std::memcpy(theirs_.data(), f.payload.data() + 16, 32);
    if (peer_ == cfg_.node_name && peer_inc_ == cfg_.incarnation) return fail(), true;
    return false;
  }
  mac_tag proof(const nonce& n, std::string_view name, std::uint64_t inc) const {
    std::vector<unsigned char> msg(n.size() + name.size() + 8);
    std::memcpy(msg.data(), n.data(), n.size());
    std::memcpy(msg.data() + n.size(), name.data(), name.size());
    detail::store_u64(reinterpret_cast<std::byte*>(msg.data() + n.size() + name.size()), inc);
    mac_tag tag{};
    unsigned len = 0;
    HMAC(EVP_sha256(), cfg_.secret.data(), static_cast<int>(cfg_.secret.size()), msg.data(),
         msg.size(), reinterpret_cast<unsigned char*>(tag.data()), &len);
    return tag;
  }
  static bool equal(const std::byte* a, const mac_tag& b) {
    return CRYPTO_memcmp(a, b.data(), b.size()) == 0;
  }
  void intro(frame_kind kind, const mac_tag* p, std::vector<std::byte>& out) const {
    std::vector<std::byte> body(p ? 80 : 48);
    detail::store_u32(body.data(), protocol_magic);
    detail::store_u16(body.data() + 4, protocol_version);
    detail::store_u64(body.data() + 8, cfg_.incarnation);
    std::memcpy(body.data() + 16, ours_.data(), 32);
    if (p) std::memcpy(body.data() + 48, p->data(), 32);
    frame f;
    f.kind = kind;
    f.sender_node = cfg_.node_name;
    f.payload = body;
    encode_append(f, out);
  }

  handshake::role role_;
  handshake_config cfg_;
  nonce ours_, theirs_{};
  std::string peer_;
  std::uint64_t peer_inc_ = 0;
  bool done_ = false, failed_ = false;
};

}  // namespace

TEST_CASE("the oracle catches version 1's relay and passes an honest wire",
          "[remote][handshake][fuzz]") {
  // Known bad: version 1 falls to issue 8's relay, and the oracle says so.
  CHECK_FALSE(fuzz::check_handshake_sessions<version1_handshake>(seed("script-issue8-relay")));
  // The wire (the attacker forwards verbatim) is no attack, in either version.
  CHECK(fuzz::check_handshake_sessions<version1_handshake>(seed("script-wire-relay")));
  CHECK(fuzz::check_handshake_sessions(seed("script-wire-relay")));
}

TEST_CASE("no script over several connections authenticates a peer without the secret",
          "[remote][handshake][fuzz]") {
  for (auto& e : fs::directory_iterator(fs::path(VOLLEY_REMOTE_CORPUS_DIR) / "handshake")) {
    INFO(e.path().filename().string());
    auto bytes = read_corpus_file(e.path());
    CHECK(fuzz::check_handshake_sessions(bytes));
    CHECK(fuzz::check_handshake(bytes));
  }
  // Random scripts, biased towards the moves that matter (opens, relays,
  // transplants), and mutations of the seeds.
  std::mt19937_64 rng(8);
  std::vector<std::vector<std::byte>> seeds = {
      seed("script-issue8-relay"), seed("script-reflection"), seed("script-wire-relay")};
  int failures = 0, v1_caught = 0;
  for (int round = 0; round < 20000; ++round) {
    std::vector<std::byte> s;
    if (round % 2 == 0) {
      s.resize(8 + rng() % 120);
      for (auto& b : s) b = std::byte(rng() % 7 < 3 ? rng() % 5 : rng() & 0xff);
    } else {
      s = seeds[rng() % seeds.size()];
      int flips = 1 + static_cast<int>(rng() % 3);
      for (int i = 0; i < flips; ++i) s[rng() % s.size()] = std::byte(rng() & 0xff);
    }
    if (!fuzz::check_handshake_sessions(s)) ++failures;
    if (!fuzz::check_handshake_sessions<version1_handshake>(s)) ++v1_caught;
  }
  CHECK(failures == 0);
  CHECK(v1_caught > 0);  // the same search finds version 1's flaw on its own
}
