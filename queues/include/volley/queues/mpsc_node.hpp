// volley/queues/mpsc_node.hpp — the link that items of volley's intrusive MPSC
// queues embed (intrusive_mpsc.hpp: actor mailboxes; handoff_mpsc.hpp: the
// remote transport's inbox).
#pragma once

#include <atomic>

namespace volley::queues {

/// Embed (or derive from) this in every item that goes through an
/// intrusive MPSC queue: the queue links items through `next`, so pushing
/// allocates nothing. `Atom` is std::atomic except in the exhaustive checker
/// (tests/checker/), which substitutes a model atomic.
template <template <class> class Atom = std::atomic>
struct basic_mpsc_node {
  Atom<basic_mpsc_node*> next{nullptr};
};

using mpsc_node = basic_mpsc_node<>;

}  // namespace volley::queues
