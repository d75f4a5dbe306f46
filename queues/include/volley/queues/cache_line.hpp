// volley/queues/cache_line.hpp — the line size volley lays shared data out
// for, written once for every library (the engine, the remote transport and
// these queues all align to it).
//
// 64 bytes on every x86-64 and on the common AArch64 cores.
// std::hardware_destructive_interference_size would say the same, but g++
// warns that it may change between compiler versions, and layouts that
// depend on it (the engine's cell) must not. Why the engine's cell keeps its
// line alignment, with the figures: engine/include/volley/engine/detail/
// cell.hpp.
#pragma once

#include <cstddef>

namespace volley::queues {

/// Two fields that different threads write go this far apart (alignas), so
/// that one thread's writes do not take the other's line away.
inline constexpr std::size_t cache_line_size = 64;

}  // namespace volley::queues
