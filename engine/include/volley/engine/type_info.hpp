// volley/engine/type_info.hpp — compile-time identity and names of message types.
//
// type_id<T>() is the address of a per-type variable: unique in a process,
// free to compute, good as a key for run-time dispatch (any_ref). It is not
// stable across processes; remoting uses registered markers instead.
// type_name<T>() is for humans (dead-letter reports, errors), taken from the
// compiler's pretty function name, so it reads like the source.
#pragma once

#include <string_view>

namespace volley {

/// An address unique to each type (a constant expression, usable in static tables).
using type_id_t = const void*;

namespace detail {
template <class T>
inline constexpr char type_tag = 0;
}  // namespace detail

template <class T>
constexpr type_id_t type_id() noexcept {
  return &detail::type_tag<T>;
}

template <class T>
constexpr std::string_view type_name() noexcept {
  constexpr std::string_view name_follows = "T = ";
#if defined(__clang__)
  std::string_view p = __PRETTY_FUNCTION__;  // "... type_name() [T = foo]"
  auto begin = p.find(name_follows) + name_follows.size();
  auto end = p.find_last_of(']');
#else
  std::string_view p = __PRETTY_FUNCTION__;  // "... type_name() [with T = foo; ...]"
  auto begin = p.find(name_follows) + name_follows.size();
  auto end = p.find_first_of(";]", begin);
#endif
  return p.substr(begin, end - begin);
}

}  // namespace volley
