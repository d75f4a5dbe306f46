// A file of the fuzzers' committed seed corpus (remote/fuzz/corpus), read
// whole, for the tests that run the fuzzers' oracles over it in every build
// (decoder_corpus_test, handshake_sessions_test).
#pragma once

#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

namespace volley::remote::test {

inline std::vector<std::byte> read_corpus_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

}  // namespace volley::remote::test
