// libFuzzer target: the frame decoder must never crash, must not depend on
// how the stream is split, and must deliver only frames that re-encode to
// their own bytes. Build with -DVOLLEY_BUILD_FUZZ=ON (clang).
#include "fuzz_checks.hpp"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  if (!volley::remote::fuzz::check_decoder(bytes)) std::abort();
  volley::remote::parse_frame(bytes);
  return 0;
}
