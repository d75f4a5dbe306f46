// engine/src/cpu_relax.hpp — the pause a spinning thread makes between looks.
//
// A spin-wait loop without it keeps the core's pipeline full of speculative
// loads of the watched line, slows the other hyperthread, and pays a memory-
// order mis-speculation flush when the line finally changes. x86 `pause`
// (~40 cycles on recent Intel, ~10 on AMD) and AArch64 `yield` say "spinning".
#pragma once

namespace volley::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace volley::detail
