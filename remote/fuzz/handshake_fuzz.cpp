// libFuzzer target: the handshake state machine, fed arbitrary frame streams
// in both roles, must never crash, never emit a malformed frame and never
// accept a peer that did not prove the secret. Build with -DVOLLEY_BUILD_FUZZ=ON.
#include "fuzz_checks.hpp"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  if (!volley::remote::fuzz::check_handshake(bytes)) std::abort();
  return 0;
}
