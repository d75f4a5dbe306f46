// Runs the fuzzers' oracles over the committed seed corpus and over random and
// mutated bytes, so every CI build (ASan+UBSan included) covers the decoder
// and the handshake with hostile input, not only the fuzz build.
#include "../../remote/fuzz/fuzz_checks.hpp"
#include "corpus_file.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

using namespace volley::remote;
namespace fs = std::filesystem;
using volley::remote::test::read_corpus_file;

namespace {

std::vector<std::pair<std::string, std::vector<std::byte>>> corpus(const std::string& name) {
  std::vector<std::pair<std::string, std::vector<std::byte>>> files;
  for (auto& e : fs::directory_iterator(fs::path(VOLLEY_REMOTE_CORPUS_DIR) / name))
    files.emplace_back(e.path().filename().string(), read_corpus_file(e.path()));
  return files;
}

decode_error expected_error(const std::string& file) {
  // bad-<reason>-<what>: the reason is to_string()'s name with '_' for ' '.
  for (auto e :
       {decode_error::oversized, decode_error::malformed_header, decode_error::unknown_kind,
        decode_error::truncated_payload, decode_error::bad_path}) {
    std::string tag;
    switch (e) {
      case decode_error::oversized:
        tag = "oversized";
        break;
      case decode_error::malformed_header:
        tag = "malformed_header";
        break;
      case decode_error::unknown_kind:
        tag = "unknown_kind";
        break;
      case decode_error::truncated_payload:
        tag = "truncated_payload";
        break;
      default:
        tag = "bad_path";
        break;
    }
    if (file.rfind("bad-" + tag + "-", 0) == 0) return e;
  }
  return decode_error::none;
}

}  // namespace

TEST_CASE("the seed corpus, written from PROTOCOL.md, decodes as its file names say",
          "[remote][corpus]") {
  auto files = corpus("frame_decoder");
  REQUIRE(files.size() >= 10);
  for (auto& [name, bytes] : files) {
    INFO(name);
    CHECK(fuzz::check_decoder(bytes));
    fuzz::decode_outcome r = fuzz::decode_in_chunks(bytes, bytes.size(), {});
    CHECK(r.error == expected_error(name));
    if (name.rfind("valid-", 0) == 0) CHECK(r.frames >= 1);
  }
}

TEST_CASE("the handshake seeds never complete a handshake", "[remote][corpus]") {
  for (auto& [name, bytes] : corpus("handshake")) {
    INFO(name);
    CHECK(fuzz::check_handshake(bytes));
  }
}

TEST_CASE("random bytes and mutated seeds never break the decoder or the handshake",
          "[remote][corpus]") {
  std::mt19937_64 rng(20240611);
  auto seeds = corpus("frame_decoder");
  for (auto& s : corpus("handshake")) seeds.push_back(s);
  int failures = 0;
  for (int round = 0; round < 20000; ++round) {
    std::vector<std::byte> input;
    if (round % 2 == 0) {
      input.resize(rng() % 256);
      for (auto& b : input) b = std::byte(rng() & 0xff);
    } else {
      input = seeds[rng() % seeds.size()].second;
      int flips = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < flips && !input.empty(); ++i)
        input[rng() % input.size()] = std::byte(rng() & 0xff);
      if (rng() % 4 == 0 && !input.empty()) input.resize(rng() % input.size());
    }
    if (!fuzz::check_decoder(input) || !fuzz::check_handshake(input)) ++failures;
  }
  CHECK(failures == 0);
}
