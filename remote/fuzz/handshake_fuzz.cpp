// libFuzzer target: the handshake state machine. Each input is read twice:
// as a frame stream fed to one handshake in both roles (it must never be
// accepted), and as a script of an attacker's moves over up to eight
// connections at once against two honest nodes, with nonces, names and
// incarnations of its choice and every frame the honest sides sent at hand
// (fuzz_checks.hpp: no honest side may authenticate a peer unless another
// honest side saw the same exchange). Build with -DVOLLEY_BUILD_FUZZ=ON.
#include "fuzz_checks.hpp"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  if (!volley::remote::fuzz::check_handshake(bytes)) std::abort();
  if (!volley::remote::fuzz::check_handshake_sessions(bytes)) std::abort();
  return 0;
}
