// The inside of a remote::node: how actor sends become frames and back.
//
// Threads and ownership
// ---------------------
// * Senders serialise: a tell or ask to a proxy runs node_core::forward on
//   the sending thread (a worker or any user thread; proxy.cpp), which
//   registers a pending ask when it is one and calls send(), which takes no
//   lock (see "Reaching the transport"). The proxy's own worker only sees
//   system messages, and user messages sent after it began to stop.
// * The transport's loop thread calls the transport_handler methods
//   (node.cpp): it resolves target paths, deserialises and tells/asks local
//   actors, completes pending asks, and on a lost connection stops the
//   connection's proxies and fails its asks. It never blocks on a worker.
// * Users call node::connect and remote_system::select from any thread.
//
// Lifetimes: node_core is shared. The node holds it, every link holds it (a
// proxy runs on a worker and may outlive the node by a little), and links
// are held by the core's table, by remote_system handles and by proxies.
// shutdown() breaks the cycles: it destroys the transport, stops the hidden
// root actor (and with it every proxy, whose actor objects hold the links)
// and clears the table.
//
// Reaching the transport
// ----------------------
// A send is a tell's hot path, so it takes no lock (a shared lock was 3% of
// the proxy's worker, and its RMWs bounced one line between every sending
// thread). Instead each thread owns a claim slot (one cache line, listed in a
// process-wide registry when the thread first claims): a caller announces
// `claim_slot = this` (seq_cst), then loads `live_transport_` (seq_cst) and
// uses the transport only if it is not null; it withdraws the claim
// (release) when done. shutdown() stores null into `live_transport_`
// (seq_cst), then waits until no slot names this node, then stops the
// transport. This is the store-buffering pattern: with a full fence between
// each side's store and load, either the caller sees null, or shutdown sees
// the claim and waits for its release, after which everything the caller
// did to the transport happens-before the stop. The fence is asymmetric
// where the kernel offers membarrier(PRIVATE_EXPEDITED): the caller's is
// only a compiler fence, and shutdown's membarrier makes every running
// thread pass a full one (a thread not running has passed one already);
// otherwise the claim's store is a seq_cst exchange. A claim is held for one short non-blocking
// call (send, disconnect, reset) or a connect's address resolution.
//
// The transport object lives as long as the core (shutdown only stops it),
// so stats() reads its final figures after shutdown.
//
// What a peer may do (PROTOCOL.md §10)
// ------------------------------------
// * Asks: a pending ask is keyed by its correlation id (64 CSPRNG bits,
//   unique among pending asks) and remembers its connection; a reply is
//   taken only when it arrives on that connection. A reply naming an ask of
//   another connection is refused and counted, and the ask stays pending.
// * Paths: a frame may reach a local actor only if node_config::access lists
//   its path, or if that actor has sent something over the same link (its
//   path is in link::exposed: the peer holds its ref, so it may answer).
// * Incarnations: when a node name comes up with a new incarnation, every
//   other link of the old incarnation is lost at once (proxies node_down,
//   asks failed) and its connection marked superseded (loop thread only):
//   frames still arriving on it are dropped; it is closed (an outbound one
//   reset: it reconnects at once). A link that reconnects to a new
//   incarnation drops what it held for the old one before it is up again, and
//   the transport dead-letters the frames queued for the old one.
// * Associations: one link per peer node. When the transport resolves a
//   simultaneous connect (on_merged, before the kept connection's on_up), the
//   loser's link routes to the kept connection and, if that one already has a
//   link, hands it its proxies (link::merged_into, followed by remote_system).
//   A pending ask stays valid across it: a reply is taken from any connection
//   of the same association (same_association).
#pragma once

#include "asymmetric_fence.hpp"
#include "incarnation.hpp"
#include "striped_counter.hpp"

#include <volley/engine/detail/thread_safety.hpp>
#include <volley/queues/cache_line.hpp>
#include <volley/remote/message_types.hpp>
#include <volley/remote/node.hpp>
#include <volley/remote/transport.hpp>
#include <volley/volley.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace volley::remote::detail {

class node_core;

/// Hashes a path given as a string or a view, so that containers keyed by
/// std::string are searched with a frame's string_view: a path past the
/// small-string buffer (15 chars) cost a heap allocation per lookup.
struct path_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view p) const noexcept {
    return std::hash<std::string_view>{}(p);
  }
};
using path_set = std::unordered_set<std::string, path_hash, std::equal_to<>>;

/// The association with another actor system, and the proxies of its actors.
///
/// A link is born with a connection (`conn`: ours from connect(), or one the
/// peer opened) and sends on `route`, normally that same connection. When
/// two connections to one node meet (simultaneous connect, PROTOCOL.md §6.6)
/// the transport keeps one and reports on_merged(loser, winner); the node
/// then keeps one link for the pair: the loser's link routes to the winner
/// and takes the winner's id, or, if the winner has a link already, gives it
/// its proxies and forwards to it (`merged_into`; remote_system follows it).
/// Either way one proxy per remote path and one connection carry the pair's
/// traffic. When the association goes down, every link merged into it goes
/// back to its own connection (an outbound one reconnects).
struct link {
  /// Never reused within the process, unlike a link's address: keys the
  /// senders' per-thread copies of `exposed` (proxy.cpp).
  static std::uint64_t next_serial() noexcept {
    static std::atomic<std::uint64_t> last{0};
    return last.fetch_add(1, std::memory_order_relaxed) + 1;
  }

  link(std::shared_ptr<node_core> c, connection_id id, bool out, std::string addr)
      : core(std::move(c)), conn(id), outbound(out), address(std::move(addr)), route(id) {}

  const std::shared_ptr<node_core> core;
  const std::uint64_t serial = next_serial();
  const connection_id conn;   ///< the connection the link was born with
  const bool outbound;        ///< `conn` is ours (the transport reconnects it)
  const std::string address;  ///< "host:port" as connected to, or the peer's socket address
  /// Where frames go now: `conn`, or the connection kept for the pair.
  /// Relaxed: a proxy that reads the old value still reaches the same peer
  /// (the transport forwards a loser's frames, in order).
  std::atomic<connection_id> route;

  mutable volley::detail::mutex mu;  // guards everything below but the atomic
  std::condition_variable up_changed;
  bool up VOLLEY_GUARDED_BY(mu) = false;
  bool closed VOLLEY_GUARDED_BY(mu) = false;  ///< disconnected, or an inbound connection that ended
  std::string peer_name VOLLEY_GUARDED_BY(mu);
  std::uint64_t incarnation VOLLEY_GUARDED_BY(mu) = 0;
  std::unordered_map<std::string, any_ref> proxies VOLLEY_GUARDED_BY(mu);  ///< by remote path
  /// Local actor paths sent over this link as senders: the peer may answer
  /// them. Senders note themselves here once per thread (proxy.cpp, by the
  /// sender cell's serial); the loop looks frames' targets up by view.
  path_set exposed VOLLEY_GUARDED_BY(mu);
  /// Past this size, adding a sender first drops the paths of actors that are
  /// gone (see proxy.cpp); then the mark doubles. Ordinary links hold a few
  /// senders; the mark bounds a link whose senders are many short-lived actors.
  /// Never below `exposed_prune_floor`: a prune looks up every path, so one
  /// per 4096 new senders at least keeps its cost per sender small, and the
  /// set, a few hundred KB at that size, small too. Not measured.
  static constexpr std::size_t exposed_prune_floor = 4096;
  std::size_t exposed_prune_at VOLLEY_GUARDED_BY(mu) = exposed_prune_floor;
  /// Bumped when paths leave `exposed`, so senders' threads forget what they noted.
  std::atomic<std::uint64_t> exposed_generation{0};
  /// The link this one gave its proxies to (simultaneous connect); null while it is its own.
  std::shared_ptr<link> merged_into VOLLEY_GUARDED_BY(mu);
  /// Links merged into this one: their ids lead here until the association ends.
  std::vector<std::shared_ptr<link>> absorbed VOLLEY_GUARDED_BY(mu);

  /// How dead letters name an actor of this system: "remote://name/path".
  std::string describe(std::string_view path) const;
};

/// What a proxy sends with: its link and the remote path. Shared by the
/// actor object and the cell's direct taker, which runs on the senders'
/// threads and may still run while the actor stops (cell.hpp, direct_fn).
struct proxy_route {
  proxy_route(std::shared_ptr<link> l, std::string p) : link_(std::move(l)), path_(std::move(p)) {}

  std::shared_ptr<link> link_;
  std::string path_;  ///< the actor's path on the remote system
  /// The registration of the type last sent through this proxy (forward):
  /// a proxy mostly carries one type, so the lookup by type id is skipped
  /// when its id matches. Relaxed: entries never change once the node's
  /// message_types is built, and the link keeps the node (and them) alive.
  mutable std::atomic<const message_entry*> last_entry{nullptr};
};

/// The local stand-in for a remote actor. A user message sent to it while it
/// is alive is serialised on the sender's thread and queued on the
/// transport (on_direct, proxy.cpp); on_any (it declares no handlers) takes
/// what reaches its mailbox anyway.
struct proxy {
  /// Runs inside spawn (the cell is not published yet): the proxy's path()
  /// names the remote actor, "remote://node/user/echo" (the peer's address
  /// instead of its name if the link has never been up).
  /// `shown` is link::describe(p), taken by the caller outside the link's lock.
  proxy(std::shared_ptr<link> l, std::string p, std::string shown);
  static void on_any(volley::detail::envelope* e, volley::detail::cell_base* c, context& ctx);
  static bool on_direct(volley::detail::cell_base* c, volley::detail::envelope* e,
                        void* route) noexcept;
  static bool on_tell(volley::detail::cell_base* c, const volley::detail::message_info* info,
                      const void* payload, volley::detail::cell_base* sender, void* route) noexcept;

  std::shared_ptr<proxy_route> route_;
};

/// Lets a kind of log line through at most once a second; the line that gets
/// through says how many were held back. Any thread.
class log_limiter {
 public:
  /// True when a line may be logged now; `held_back` is then the number of
  /// lines refused since the last one.
  bool admit(std::uint64_t& held_back) noexcept;

 private:
  std::atomic<std::int64_t> next_ns_{0};
  std::atomic<std::uint64_t> held_{0};
};

/// The hidden parent of a node's proxies and of its watch daemon ("/user/$n").
struct node_root {};

/// Remote watches of local actors (watch.cpp).
struct watch_request {
  connection_id conn;
  std::string target;   ///< local path being watched
  std::string watcher;  ///< the remote watcher's path, echoed in `terminated`
};
struct unwatch_request {
  connection_id conn;
  std::string target;
  std::string watcher;
};
struct connection_lost {
  connection_id conn;
};
struct watch_daemon;

/// An ask sent to a remote actor, waiting for its reply frame.
struct pending_ask {
  void* request;                             ///< taken out of the envelope
  const volley::detail::message_info* info;  ///< reply type and complete_request
  connection_id conn;
  std::chrono::steady_clock::time_point sent;
};

/// A thread's claim slot (one cache line), listed in the registry (node.cpp).
struct alignas(queues::cache_line_size) claim_slot {
  std::atomic<const node_core*> core{nullptr};
};

/// This thread's slot once listed (node.cpp).
extern constinit thread_local claim_slot* this_thread_claim;
/// Lists this thread's slot, on its first claim.
[[gnu::noinline]] claim_slot* list_this_thread();

/// This thread's claim on a node's transport, for the claim's scope (see
/// "Reaching the transport"). Nests: a claim restores the one it replaced.
class transport_claim {
 public:
  // Inline, as with_transport: out of line, the claim's two calls and their
  // frames were 29 instructions a tell (callgrind, remote_bench one-way).
  explicit transport_claim(const node_core* core) noexcept
      : slot_((this_thread_claim != nullptr ? this_thread_claim : list_this_thread())->core),
        previous_(slot_.load(std::memory_order_relaxed)) {
    // The store must be ordered before the load of live_transport_ that
    // follows (store-buffering with shutdown). Either a full fence here, or a
    // compiler fence here and the membarrier in wait_for_claims, which runs a
    // full fence on this thread if it is running between the two.
    if (asymmetric_fence()) {
      slot_.store(core, std::memory_order_relaxed);
      std::atomic_signal_fence(std::memory_order_seq_cst);
    } else {
      slot_.exchange(core, std::memory_order_seq_cst);
    }
  }
  ~transport_claim() {
    // Release: what this thread did to the transport happens-before the stop
    // of a shutdown that acquires this store in wait_for_claims.
    slot_.store(previous_, std::memory_order_release);
  }
  transport_claim(const transport_claim&) = delete;
  transport_claim& operator=(const transport_claim&) = delete;

 private:
  std::atomic<const node_core*>& slot_;
  const node_core* previous_;
};

class node_core final : public transport_handler, public std::enable_shared_from_this<node_core> {
 public:
  node_core(volley::system& sys, node_config cfg, message_types types);
  ~node_core() override;

  /// Starts the transport and the hidden actors (after make_shared).
  void start();
  void shutdown();

  // -- used by node / remote_system -----------------------------------------
  std::shared_ptr<link> connect(const std::string& host, std::uint16_t port);
  void disconnect(const std::shared_ptr<link>& l);
  any_ref proxy_for(const std::shared_ptr<link>& l, std::string_view path);
  node_stats stats() const;
  std::uint16_t port() const noexcept { return port_; }
  const std::string& name() const noexcept { return cfg_.name; }
  std::uint64_t incarnation() const noexcept { return incarnation_; }

  // -- used by proxies and the watch daemon (any thread) -------------------
  /// A proxy's message, on the sender's thread (or the proxy's worker):
  /// serialise, register an ask, hand it to the transport.
  void forward(const proxy_route& r, volley::detail::envelope* e);
  /// A tell of the caller's own `payload` (proxy::on_tell: no envelope),
  /// from `sender` (or nullptr). The payload stays the caller's.
  /// Inline: on_tell's call goes straight to send_message (one layer less).
  void forward_tell(const proxy_route& r, const volley::detail::message_info* info,
                    const void* payload, volley::detail::cell_base* sender) {
    send_message(r, info, payload, sender, nullptr, nullptr);
  }
  /// Records that `sender` (its local path) was given to the link's peer.
  /// Returns whether that path may go into a frame (valid_path: checked
  /// once per sending thread, with the mark that skips the record).
  bool expose(link& l, const volley::detail::cell_path& sender);
  send_result send(connection_id id, const frame& f, path_check paths = path_check::each_frame) {
    send_result r = send_result::stopped;
    with_transport([&](transport& t) { r = t.send(id, f, paths); });
    return r;
  }
  /// Answers a remote ask with an error (an ask_failure frame).
  void send_failure(connection_id conn, std::uint64_t correlation, const error& err);
  volley::system& actor_system() noexcept { return sys_; }
  const message_types& types() const noexcept { return types_; }
  void log(log_level level, const std::string& what) const;
  void publish_dead_letter(std::string sender, std::string recipient, std::string type,
                           dead_letter_reason reason);
  /// Bumped by every sending thread: a stripe per thread.
  striped_counter messages_sent;
  /// Written by the loop thread only (count_received): a line of its own,
  /// so it does not bounce against the senders' counters.
  alignas(queues::cache_line_size) std::atomic<std::uint64_t> messages_received{0};
  /// One more message delivered (loop thread). A plain load and store, not
  /// a locked add: the only writer needs no RMW, and the lock drained the
  /// store buffer behind the envelope just written (perf annotate: half of
  /// deliver_tell's own samples, ~4.5% of the one-way profile).
  void count_received() noexcept {
    messages_received.store(messages_received.load(std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
  }
  alignas(queues::cache_line_size) std::atomic<std::uint64_t> send_failures{0};
  std::atomic<std::uint64_t> receive_failures{0};
  std::atomic<std::uint64_t> foreign_replies{0};
  std::atomic<std::uint64_t> refused_messages{0};
  std::atomic<std::uint64_t> refused_stops{0};
  std::atomic<std::uint64_t> superseded_incarnations{0};
  /// Whether a frame from `peer` may reach the local actor at `path`.
  bool may_reach(const peer_info& peer, std::string_view path);
  /// Counts and logs (rate-limited) a refused frame; `stop`: a stop or system message.
  void refuse_access(const peer_info& peer, const frame& f, const std::string& what, bool stop);

  // -- transport_handler (the loop thread) -------------------------------------
  void on_up(const peer_info& peer, std::uint64_t previous_incarnation) override;
  void on_frame(const peer_info& peer, const frame& f) override;
  /// on_frame for a frame whose target bytes are those of the frame handed
  /// over just before: when that one went through the run (tell_run::
  /// streak), the run's path compare is skipped.
  void on_frame_like_previous(const peer_info& peer, const frame& f) override;
  /// on_frame for what does not continue the last run of tells.
  void on_other_frame(const peer_info& peer, const frame& f);
  void on_down(const peer_info& peer, close_reason reason, std::string_view detail) override;
  void on_undelivered(connection_id id, const frame& f, close_reason reason) override;
  void on_merged(const peer_info& from, const peer_info& into) override;
  void on_batch_end() override;

  /// Bumped wherever a link's proxies may change (lost, merged, unmerged,
  /// up or down): the loop's sender cache starts again. Any thread.
  std::atomic<std::uint64_t> proxies_epoch{0};

  /// The link `l` leads to now (itself unless it was merged into another).
  std::shared_ptr<link> resolve(std::shared_ptr<link> l) const;

 private:
  std::shared_ptr<link> find_link(connection_id id) const;
  std::shared_ptr<link> link_for(const peer_info& peer);
  /// Stops the link's proxies (and those of links merged into it) and fails
  /// their asks (the association is gone).
  void lose(link& l, const std::string& why);
  /// After the association's connection went down: links merged into `l`
  /// go back to their own connections (inbound ones end).
  void unmerge(link& l);
  /// Whether two connection ids lead to the same link (one association).
  bool same_association(connection_id a, connection_id b) const;

  /// forward's and forward_tell's common part: `payload` (of the type
  /// `info` names) from `sender` (nullptr: none), with the ask's `request`
  /// taken (nullptr: a tell). `e` is the envelope the payload lives in, whose
  /// payload this destroys exactly once, or nullptr (a direct tell: the
  /// caller keeps its object).
  void send_message(const proxy_route& r, const volley::detail::message_info* info,
                    const void* payload, volley::detail::cell_base* sender, void* request,
                    volley::detail::envelope* e);
  /// send_message's way out for a message it cannot encode (`why`): a dead
  /// letter, and the request (if any) answered with `code`.
  [[gnu::cold, gnu::noinline]] void refuse_message(const proxy_route& r,
                                                   const volley::detail::message_info* info,
                                                   std::string_view sender, void* request,
                                                   volley::detail::envelope* e, errc code,
                                                   std::string why);
  /// send_message's way out for a frame send() did not queue (`r`): a dead
  /// letter, and the pending ask under `correlation` (if `ask`) failed.
  [[gnu::cold, gnu::noinline]] void report_not_sent(const proxy_route& r, send_result result,
                                                    std::string_view sender,
                                                    const std::string& type, bool ask,
                                                    std::uint64_t correlation);
  void deliver_tell(const peer_info& peer, const frame& f);
  void deliver_ask(const peer_info& peer, const frame& f);
  /// Whether `f` may reach its target: its path allowed, its type not a refused stop.
  bool admit(const peer_info& peer, const frame& f, const message_entry* entry, const char* what);
  /// The pending ask a reply or failure answers, taken out; false when refused.
  bool match_reply(const peer_info& peer, const frame& f, pending_ask& p);
  void complete_reply(const peer_info& peer, const frame& f);
  void complete_failure(const peer_info& peer, const frame& f);
  void on_terminated_frame(const peer_info& peer, const frame& f);
  /// The local actor at `path` (loop thread; cached). Borrowed from the
  /// cache: valid until the next resolve() (the cache may drop it then).
  const any_ref& resolve(std::string_view path);
  /// The sender of an inbound frame as a local ref (a proxy), or empty
  /// (loop thread; cached). Borrowed: valid until the next sender_of().
  /// `same_sender`: `f`'s sender node and path are the bytes of the frame
  /// before it, whose sender this found as the entry it kept
  /// (sender_streak_), so the path compare is skipped.
  const any_ref& sender_of(const peer_info& peer, const frame& f, bool same_sender = false);
  /// Pending asks: add (false when the id is taken), take one out, take the
  /// reply's ask (only from its own connection), take all of a connection (or all).
  bool add_pending(std::uint64_t id, pending_ask p);
  bool take_pending(std::uint64_t id, pending_ask& out);
  enum class reply_match { taken, unknown, other_connection };
  reply_match take_reply(const peer_info& peer, const frame& f, pending_ask& out);
  /// A known name came back with a new incarnation: the old one's links are void.
  void supersede(const peer_info& peer, const std::shared_ptr<link>& fresh);
  std::vector<pending_ask> take_pending_of(connection_id conn, bool all);
  static void fail(const pending_ask& p, errc code, const std::string& why);

  volley::system& sys_;
  node_config cfg_;
  /// cfg_.inline_handlers, its default resolved (on where busy_poll is).
  const bool inline_handlers_;
  const message_types types_;
  std::uint64_t incarnation_ = 0;
  std::uint16_t port_ = 0;
  std::atomic<bool> closed_{false};

  /// Made by start(), stopped by shutdown(), destroyed with the core.
  std::unique_ptr<transport> transport_;
  /// transport_ while the node runs, null from the start of shutdown: the
  /// only way other threads reach the transport, under a claim (above).
  std::atomic<transport*> live_transport_{nullptr};
  /// Calls f(transport&) under this thread's claim; false (f not called)
  /// once the node is shutting down.
  template <class F>
  bool with_transport(F&& f);
  /// Waits until no thread holds a claim on this node (shutdown).
  void wait_for_claims() const;

  any_ref root_;
  actor_ref<watch_daemon> daemon_;

  mutable volley::detail::mutex links_mu_;
  std::unordered_map<connection_id, std::shared_ptr<link>> links_ VOLLEY_GUARDED_BY(links_mu_);

  mutable volley::detail::mutex pending_mu_;
  std::unordered_map<std::uint64_t, pending_ask> pending_ VOLLEY_GUARDED_BY(pending_mu_);
  std::chrono::steady_clock::time_point last_sweep_ VOLLEY_GUARDED_BY(pending_mu_) =
      std::chrono::steady_clock::now();
  log_limiter foreign_reply_log_;
  log_limiter refused_path_log_;
  log_limiter refused_stop_log_;

  // Loop thread only.
  /// types_.find_marker(), remembering the last answer (types_ never
  /// changes): a stream of one type pays no lookup. Two hash lookups per
  /// frame, each an integer division, were a third of deliver_tell's own
  /// samples (perf annotate, remote_bench one-way).
  const message_entry* entry_for(std::uint64_t marker) noexcept {
    if (!last_entry_known_ || marker != last_marker_) {
      last_entry_ = types_.find_marker(marker);
      last_marker_ = marker;
      last_entry_known_ = true;
    }
    return last_entry_;
  }
  std::uint64_t last_marker_ = 0;
  const message_entry* last_entry_ = nullptr;
  bool last_entry_known_ = false;
  /// The last path node_config::access.allowed_paths let through (may_reach).
  std::string last_allowed_;
  using ref_by_path = std::unordered_map<std::string, any_ref, path_hash, std::equal_to<>>;
  ref_by_path path_cache_;
  /// The entry resolve() found last: a stream of frames to one actor
  /// compares the path instead of hashing it. Null when the cache changed.
  ref_by_path::value_type* last_resolved_ = nullptr;
  /// The last tell that took the batched path, when its target was let
  /// through by node_config::access.allowed_paths (for good: the list never
  /// changes) and its type is a user message: the next frame of the same
  /// connection, type and target skips entry_for, admit and resolve's
  /// second path compare (deliver_tell). Cleared whenever last_resolved_
  /// changes, so `target` is always last_resolved_ with the key it had.
  struct tell_run {
    connection_id conn = 0;
    std::uint64_t marker = 0;
    const message_entry* entry = nullptr;  ///< null: no run
    ref_by_path::value_type* target = nullptr;
    /// The target's handler of the type (message_entry::handler_of): a
    /// cell's handlers never change, so a run looks it up once.
    volley::detail::invoke_fn handler = nullptr;
    /// The frame handed over last (on_frame, on_frame_like_previous) was
    /// delivered through this run: it went to `target`, so a frame whose
    /// target bytes the transport reports equal to that frame's
    /// (on_frame_like_previous) goes there too, without the path compare.
    /// Cleared by every frame that takes another way (receive() clears it
    /// first and sets it only on the run's success) and by every other
    /// handler call (on_up, on_down, on_merged, on_undelivered,
    /// on_batch_end), so it never vouches for a frame that failed, was
    /// refused or went elsewhere.
    bool streak = false;
  };
  tell_run last_tell_;
  /// The frame handed over last went through the run (tell_run::streak)
  /// and its sender was found as last_sender_ (sender_of's shortcut or its
  /// cache, not a refusal): a frame like it has the same sender. Cleared
  /// with the streak, and by every frame before it is earned again.
  bool sender_streak_ = false;
  /// Ends both streaks: a handler call other than a frame's (on_up,
  /// on_down, on_merged, on_undelivered, on_batch_end).
  void end_streaks() noexcept {
    last_tell_.streak = false;
    sender_streak_ = false;
  }
  /// on_frame and on_frame_like_previous: `like_previous` is the
  /// transport's hint (the target bytes of the frame handed over just before).
  void receive(const peer_info& peer, const frame& f, bool like_previous);
  /// Delivers `f` through the last run's shortcut (tell_run); false when it
  /// does not continue that run or must take the plain path. `same_target`:
  /// `f`'s target is known to be the run's (the streak), so the path
  /// compare is skipped.
  bool continue_run(const peer_info& peer, const frame& f, bool same_target, bool same_sender);
  /// Hands a tell whose type, target, admission and handler (`fn`, not
  /// null) are known to its target's chain; false when its payload does not
  /// decode.
  bool deliver_batched(const peer_info& peer, const frame& f, const message_entry& entry,
                       const any_ref& target, volley::detail::invoke_fn fn,
                       bool same_sender = false);
  /// Proxies of inbound frames' senders, by connection and sender path:
  /// what proxy_for() answers (a lock on links_, the link's lock, strings
  /// built for the proxy's name) without asking it per frame. Valid while
  /// proxies_epoch is `sender_epoch_`.
  std::unordered_map<connection_id, ref_by_path> sender_cache_;
  std::uint64_t sender_epoch_ = 0;
  /// The entry sender_of() found last, and its connection: a stream from
  /// one sender compares the path instead of two hash lookups. Null when
  /// the cache changed.
  ref_by_path::value_type* last_sender_ = nullptr;
  connection_id last_sender_conn_ = 0;
  /// Empties both caches (shutdown: their refs hold proxies, whose links
  /// hold this core).
  void clear_caches() noexcept;
  /// The turn's tells not yet handed to their actors, one chain per target,
  /// oldest target first. Handed over at the turn's end (on_batch_end), and
  /// before anything else the loop does reaches an actor (an ask, a stop, a
  /// watch, a tell that takes the plain path), so none is overtaken.
  struct pending_chain {
    any_ref target;
    volley::detail::envelope* first;
    volley::detail::envelope* last;
    void append(volley::detail::envelope* e) noexcept {
      // Relaxed: deliver_chain's exchange-and-release publishes the links.
      last->next.store(e, std::memory_order_relaxed);
      last = e;
    }
  };
  std::vector<pending_chain> batches_;
  /// Actors the loop runs itself at the end of the turn's delivery
  /// (node_config::inline_handlers): filled by flush_batches and
  /// deliver_ask, run by on_batch_end.
  volley::detail::inline_turns inline_turns_;
  /// Appends `e` (a tell built by message_entry::envelope_local) to its
  /// target's chain.
  void batch(const any_ref& target, volley::detail::envelope* e);
  /// batch() when `e` does not go to the newest chain.
  void batch_elsewhere(const any_ref& target, volley::detail::envelope* e);
  void flush_batches() noexcept;
  /// Connections of an incarnation that a newer one replaced: their frames
  /// are dropped until they go down (or come up again, reconnected).
  std::unordered_set<connection_id> superseded_;
};

template <class F>
bool node_core::with_transport(F&& f) {
  transport_claim claim(this);
  // seq_cst: after the claim's seq_cst store (store-buffering with shutdown).
  transport* t = live_transport_.load(std::memory_order_seq_cst);
  if (t == nullptr) return false;
  f(*t);
  return true;
}

/// Watches local actors for remote watchers and sends `terminated` frames
/// when they stop (watch.cpp). One per node, a child of node_root.
struct watch_daemon {
  explicit watch_daemon(std::weak_ptr<node_core> c) : core_(std::move(c)) {}
  void on(watch_request&& w, context& ctx);
  void on(unwatch_request&& w, context& ctx);
  void on(connection_lost&& l, context& ctx);
  void on(terminated&& t, context& ctx);

 private:
  /// One remote watcher: its connection, its path (echoed in `terminated`)
  /// and the path it watched, which it expects back: the actor's, or with
  /// an incarnation (incarnation.hpp) when it watches a sender's proxy.
  struct remote_watcher {
    connection_id conn;
    std::string path;
    std::string target;
    bool operator==(const remote_watcher&) const = default;
  };
  struct watched {
    any_ref ref;
    std::vector<remote_watcher> watchers;
  };
  void send_terminated(connection_id conn, const std::string& watcher, const std::string& path);

  std::weak_ptr<node_core> core_;
  std::unordered_map<volley::detail::cell_base*, watched> by_cell_;
};

}  // namespace volley::remote::detail
