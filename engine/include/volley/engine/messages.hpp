// volley/engine/messages.hpp — messages every actor understands, and the
// declaration of the messages an actor accepts at run time.
#pragma once

#include <volley/engine/type_info.hpp>

namespace volley {

/// Stops the actor when it is handled, in order: messages sent before it are
/// handled, messages after it become dead letters. Every actor handles it.
struct poison_pill {};

/// Declares, inside an actor type, the messages it accepts through untyped
/// refs (any_ref, remote refs):
///
///     struct printer {
///       using accepts = volley::accepts<print, flush>;
///       void on(const print&); void on(const flush&);
///     };
///
/// Typed refs (actor_ref<A>) need no declaration: they resolve handlers at
/// compile time. A type listed here without a handler does not compile.
template <class... Ms>
struct accepts {};

}  // namespace volley
