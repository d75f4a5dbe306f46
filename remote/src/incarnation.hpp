// A path that names one incarnation of an actor: "/user/a#12".
//
// A node gives its peers each sender as its path and its cell's serial
// (cell_path::qualified), so that a successor spawned at the same path is
// another sender to them: its own proxy over there, its own entry in the
// link's exposed set here. Before this, a successor's first message could
// reach the peer ahead of the old actor's `terminated` notice, take the old
// proxy, and have its reply lost when that notice stopped the proxy.
//
// Only the node that owns the actor reads the serial; its peers keep the
// whole string as an opaque path (remote/PROTOCOL.md, "Senders").
#pragma once

#include <volley/volley.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace volley::remote::detail {

struct incarnation_path {
  std::string_view path;     ///< without the '#' part
  std::uint64_t serial = 0;  ///< 0: the path named no incarnation
};

/// Splits "/user/a#12" into "/user/a" and 12; "/user/a" gives serial 0.
/// nullopt when a '#' is not followed by a decimal serial from 1 to 2^64-1
/// with no leading zero: no actor has such a name (names hold no '#').
std::optional<incarnation_path> split_incarnation(std::string_view p) noexcept;

/// The path without its incarnation, for display ("/user/a#12" -> "/user/a").
std::string_view without_incarnation(std::string_view p) noexcept;

/// The actor `p` names in `sys`, or an empty ref: for a path with an
/// incarnation, only the cell whose serial that is, never a successor.
any_ref select_incarnation(const volley::system& sys, std::string_view p);

}  // namespace volley::remote::detail
