// volley/remote/node.hpp — an actor system's door to other actor systems.
//
//     volley::system sys;
//     volley::remote::message_types types;          // see message_types.hpp
//     types.add<ping>(1, "ping").add<pong>(2, "pong").add_ask<ping, pong>();
//     volley::remote::node node(sys, {.name = "orders-1", .secret = "s3cret",
//                                     .port = 2552,
//                                     .access = {.allowed_paths = {"/user/orders"}}},
//                               types);                // peers may reach /user/orders only
//     auto other = node.connect("10.0.0.8", 2552);   // a remote_system
//     // (the node there lists /user/printer in its own access.allowed_paths)
//     volley::any_ref printer = other.select("/user/printer");
//     printer.tell(ping{1});                          // exactly like a local any_ref
//     auto r = printer.ask<pong>(ping{2}).get(1s);
//
// A node owns one transport (transport.hpp: one io_uring loop thread) and
// turns actor sends into frames and frames into actor sends. A remote actor
// is represented locally by a *proxy*, a small local actor (a child of a
// hidden per-node actor under /user). A tell or ask to it is serialised on
// the sending thread and the frame queued on the transport (a lock-free
// push, no syscall), without passing through the proxy's mailbox; so sends
// to a remote actor never block, and `ctx.watch(remote_ref)` works like for
// a local actor.
//
// Semantics:
//  * At most once, in order per sender/receiver pair (one proxy per remote
//    path, one connection per remote system). Two nodes that connect to each
//    other at once keep one connection between them (PROTOCOL.md §6.6): both
//    remote_system handles then lead to it, and select() and ctx.sender()
//    give the same proxy. A message whose type is not registered, or that
//    the connection's outbound bound refuses, becomes a dead letter (reason:
//    remote_failure). Nothing buffers in front of that bound: a sender that
//    outruns its link for longer than max_queued_frames absorbs loses the
//    overflow to dead letters, never its order.
//  * A reconnect to the same incarnation sends what was told during the gap
//    after it, in order; a frame in flight when the connection broke may be
//    lost (at most once: lost, never reordered). Tells queued for a node
//    that comes back as a new incarnation are dead letters with reason
//    node_restarted; they never reach the new one.
//  * A proxy's path() names the remote actor: "remote://node-b/user/echo"
//    (the address instead of the name if selected before the link was ever
//    up), so terminated.actor.path() says which remote actor stopped.
//  * ask<R>: fails with errc::node_down when the connection is lost before
//    the reply; an ask nobody answers is forgotten after
//    node_config::request_horizon. Continuations of remote asks (then) run on
//    the transport's loop thread: keep them short.
//  * The sender of a tell travels with it: at the receiver ctx.sender() is a
//    proxy for the remote sender, so `ctx.sender().tell(reply, ctx)` answers
//    across the wire.
//  * When the connection to a remote system is lost (closed, or its failure
//    detector declares it down), every proxy of it stops: watchers get
//    volley::terminated with reason `node_down` (see PROTOCOL.md), and
//    the refs stay dead. The transport reconnects with backoff; after that,
//    select() again for fresh refs (a restarted peer is a new node).
//  * A watched remote actor that stops makes its proxy stop too (watch
//    frames), so watchers learn of it as of a local one.
//  * A known node name with a new incarnation is a new node: the old
//    incarnation's proxies stop with node_down and its asks fail at once,
//    even if its connection still looked alive; refs selected while the
//    link was down belong to the incarnation last seen and go the same way.
//    A reconnect that reaches a node of another name is refused.
//  * Replies are matched by (connection, correlation id); ids are 64 random
//    bits from OpenSSL's CSPRNG, so no other peer can guess or reuse one.
//  * A peer reaches only what node_config::access allows (remote_access).
//  * With node_config::inline_handlers (by default on a busy-polling node)
//    the loop thread runs a short turn of an idle actor that a remote tell
//    or ask woke, and sends what it sends to remote refs in the same turn:
//    a round trip between actors on two nodes then wakes two threads, as
//    raw TCP ping-pong does (eight without).
//
// Lifetimes: the actor system must outlive the node. Destroying the node
// closes its connections, fails its pending asks (errc::node_down) and stops
// its proxies.
#pragma once

#include <volley/engine/actor_ref.hpp>
#include <volley/engine/system.hpp>
#include <volley/remote/message_types.hpp>
#include <volley/remote/transport.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace volley::remote {

namespace detail {
class node_core;
struct link;
}  // namespace detail

/// What an authenticated peer may do on this node (Akka's untrusted mode,
/// Erlang's allow-lists). Knowing the cluster secret lets a peer connect; it
/// does not let it reach every actor. By default a peer reaches no actor by
/// path: only the paths listed here, and the local actors that have sent it
/// something (they gave it their ref, so it may answer them: replies through
/// ctx.sender() keep working). Refusals are counted (node_stats) and logged
/// at most once a second per kind.
struct remote_access {
  /// Actor paths remote peers may tell, ask and watch. "/user/api" admits
  /// that actor; "/user/api/*" admits everything below it (not itself).
  /// A refused tell is a dead letter here; a refused ask or watch is
  /// answered as if there were no such actor, so a peer cannot probe.
  std::vector<std::string> allowed_paths;
  /// Whether a remote volley::poison_pill (registered with message_types)
  /// may stop an allowed actor. Off: refused and counted.
  bool allow_remote_stop = false;
  /// Whether volley's own notifications (volley::terminated, registered with
  /// message_types) may arrive from peers as ordinary messages. Off: refused
  /// and counted. (Remote death watch does not need it: it has its own frames.)
  bool allow_system_messages = false;
};

/// How a node is set up. The defaults suit a small cluster on a LAN. Every
/// member has an initializer, so designated initializers may name only some.
struct node_config {
  std::string name;    ///< node name: letters, digits and . _ - : @ (1..255 bytes)
  std::string secret;  ///< shared by the cluster; must not be empty
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  ///< 0: an ephemeral port (node::port())
  bool listen = true;      ///< false: only outbound connections
  /// How long a remote ask may wait for its reply before the node forgets it
  /// (completing it with errc::timeout). Callers normally time out sooner
  /// with get(timeout); this bounds the table of asks whose callers gave up.
  /// A minute: longer than any reasonable request, short enough that a
  /// stream of unanswered asks cannot pile up for long.
  std::chrono::milliseconds request_horizon{60000};
  /// Limits, outbound bounds, heartbeats, failure detection, reconnects and
  /// the ring, handed to the node's transport unchanged (transport.hpp
  /// explains each). Both sides should agree on `transport.limits`.
  transport_settings transport{};
  /// Inline handlers: the node's I/O loop runs the turn of an idle local
  /// actor that a remote tell or ask has just made runnable, itself (at most
  /// 16 messages, then the rest goes to a worker), instead of waking a
  /// worker for it; a reply or tell that handler sends to a remote ref
  /// leaves in the same loop turn. A round trip then passes through two
  /// fewer threads. Only for actors whose handlers are short and never
  /// block: while one runs, the node reads, writes and heartbeats nothing
  /// (a blocking get() there is refused, as on a worker). Actors on a
  /// dispatcher of their own (props::dispatcher, a pinned actor) never run
  /// inline; nor does a stop, a watch or any other system message.
  /// Unset (the default): on where transport.busy_poll is, off elsewhere. A
  /// node that gives its loop a core wants the shortest path, and without
  /// inline handlers its worker hand-offs cost what the poll saves: busy-poll
  /// RTT p50 on the reference VM, quiet (results 2026-11-29T15-30-02Z), ask
  /// 42.8 -> 12.9 us, actor to actor 29.7 -> 9.04 us, against raw busy-poll
  /// 6.61 us.
  std::optional<bool> inline_handlers{};
  /// What authenticated peers may reach (see remote_access): nothing by path
  /// unless listed.
  remote_access access{};
  /// Where the node and its transport log. Default: warnings and errors to stderr.
  std::function<void(log_level, std::string_view)> log{};
};

/// A handle to another actor system, from node::connect. Cheap to copy.
class remote_system {
 public:
  remote_system() = default;

  /// The proxy of the actor at `path` on that system ("/user/printer"): an
  /// any_ref used like a local one. The same path gives the same proxy until
  /// the connection is lost; after that, a fresh one. Throws
  /// std::invalid_argument for a malformed path, std::logic_error when the
  /// node or the local actor system has shut down.
  any_ref select(std::string_view path) const;

  /// Whether the connection is established now (a snapshot).
  bool is_up() const;
  /// Blocks the calling thread until the connection is up; false after
  /// `timeout`. Not for actor handlers (they must not block).
  bool wait_up(std::chrono::milliseconds timeout) const;
  /// The peer's node name and incarnation, once it has been up (else empty / 0).
  std::string peer_name() const;
  std::uint64_t peer_incarnation() const;

  /// Closes the connection and stops reconnecting; its proxies stop. With
  /// one association per node pair this ends the association, whichever of
  /// the two nodes opened the connection that carries it.
  void disconnect() const;

  explicit operator bool() const noexcept { return link_ != nullptr; }

 private:
  friend class node;
  explicit remote_system(std::shared_ptr<detail::link> l) : link_(std::move(l)) {}
  std::shared_ptr<detail::link> link_;
};

/// What a node has done so far (all counters since start).
struct node_stats {
  std::uint64_t messages_sent = 0;      ///< tells and asks handed to the transport
  std::uint64_t messages_received = 0;  ///< tells and asks delivered to local actors
  std::uint64_t send_failures = 0;      ///< sends that became dead letters / failed asks
  std::uint64_t receive_failures = 0;   ///< unknown markers, bad payloads, no such actor
  std::uint64_t pending_asks = 0;       ///< asks waiting for a reply now
  /// Replies (and ask failures) that named an ask made on another
  /// connection: refused, the ask stays pending for its own peer.
  std::uint64_t foreign_replies = 0;
  /// Tells, asks and watches from peers to paths remote_access does not allow.
  std::uint64_t refused_messages = 0;
  /// Remote poison pills and system messages refused (remote_access).
  std::uint64_t refused_stops = 0;
  /// Connections dropped because a newer incarnation of their node appeared.
  std::uint64_t superseded_incarnations = 0;
  /// Local actor paths that peers may answer because those actors sent them
  /// something (now, all links together; paths of stopped actors are dropped
  /// once a link holds 4096).
  std::uint64_t exposed_senders = 0;
  transport_stats transport;
};

class node {
 public:
  /// Binds (unless cfg.listen is false) and starts the loop thread. Throws
  /// std::system_error when io_uring is unavailable or the bind fails,
  /// std::invalid_argument on a bad config.
  node(volley::system& sys, node_config cfg, message_types types);
  /// Closes every connection, fails pending asks, stops the proxies.
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// The listening port (the chosen one when cfg.port was 0).
  std::uint16_t port() const noexcept;
  const std::string& name() const noexcept;
  std::uint64_t incarnation() const noexcept;

  /// Opens a connection to the node at host:port; it reconnects with
  /// backoff until disconnected. Sends may start at once: they wait for the
  /// handshake (but are dropped, as dead letters, if the first connection
  /// attempt fails). Throws std::system_error when `host` does not resolve.
  remote_system connect(const std::string& host, std::uint16_t port);

  node_stats stats() const;

  /// What the destructor does; idempotent.
  void shutdown();

 private:
  std::shared_ptr<detail::node_core> core_;
};

}  // namespace volley::remote
