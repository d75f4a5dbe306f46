// volley/engine/fwd.hpp — forward declarations of the engine's public types.
#pragma once

namespace volley {
class system;
class context;
class any_ref;
template <class Actor>
class actor_ref;
namespace detail {
class cell_base;
struct envelope;
class system_core;
class worker_pool;
}  // namespace detail
}  // namespace volley
