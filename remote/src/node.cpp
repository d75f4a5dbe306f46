// remote::node: its lifecycle, its links to other systems and their proxies,
// and the table of asks waiting for replies. The protocol of threads and
// lifetimes is in node_core.hpp; inbound frames are in inbound.cpp,
// outbound messages in proxy.cpp.
#include "asymmetric_fence.hpp"
#include "node_core.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <unordered_set>

namespace volley::remote {

namespace detail {

using volley::detail::spawn_actor;

std::string link::describe(std::string_view path) const {
  volley::detail::lock_guard lock(mu);
  return "remote://" + (peer_name.empty() ? address : peer_name) + std::string(path);
}

node_core::node_core(volley::system& sys, node_config cfg, message_types types)
    : sys_(sys),
      cfg_(std::move(cfg)),
      inline_handlers_(cfg_.inline_handlers.value_or(cfg_.transport.busy_poll)),
      types_(std::move(types)) {}

node_core::~node_core() = default;

void node_core::start() {
  transport_config tc;
  static_cast<transport_settings&>(tc) = cfg_.transport;
  tc.node_name = cfg_.name;
  tc.secret = cfg_.secret;
  tc.listen = cfg_.listen;
  tc.listen_host = cfg_.host;
  tc.listen_port = cfg_.port;
  if (cfg_.log) tc.log = cfg_.log;

  root_ = sys_.spawn<node_root>();
  try {
    daemon_ = spawn_actor<watch_daemon>(sys_.core(), root_.cell(), props{},
                                        std::weak_ptr<node_core>(shared_from_this()));
    transport_ = std::make_unique<transport>(std::move(tc), *this);
    port_ = transport_->port();
    incarnation_ = transport_->incarnation();
    // A thread that finds the pointer sees the transport made (seq_cst is
    // at least release). Until now the loop's own callbacks saw null.
    live_transport_.store(transport_.get(), std::memory_order_seq_cst);
  } catch (...) {
    root_.stop();
    throw;
  }
}

void node_core::shutdown() {
  if (closed_.exchange(true)) return;
  // Later callers see no transport; those inside one finish first.
  live_transport_.store(nullptr, std::memory_order_seq_cst);
  wait_for_claims();
  // Joins the loop: every link that was up is lost (on_down) first. The
  // object stays, so stats() keeps the final figures.
  if (transport_) transport_->stop();
  // The loop is joined: its cache is ours. It may hold refs to this node's
  // own proxies (a reply addressed to a proxy that forwarded as a sender),
  // whose cells hold their links (the direct taker's state), which hold this
  // core: a cycle that the cells' last refs would never break.
  clear_caches();
  flush_batches();  // the loop ended with on_batch_end; nothing is left, but cheaply sure
  std::vector<std::shared_ptr<link>> links;
  {
    volley::detail::lock_guard lock(links_mu_);
    for (auto& [id, l] : links_) {
      // Merged links appear under several ids: lose each once.
      if (std::find(links.begin(), links.end(), l) == links.end()) links.push_back(l);
    }
    links_.clear();
  }
  for (auto& l : links) {
    lose(*l, "node " + cfg_.name + " shut down");
    volley::detail::lock_guard lock(l->mu);
    l->closed = true;
    // A winner and the links merged into it point at each other (absorbed,
    // merged_into); unmerge breaks that only when the winner goes down.
    l->absorbed.clear();
  }
  for (auto& p : take_pending_of(0, true))
    fail(p, errc::node_down, "node " + cfg_.name + " shut down");
  if (root_) root_.stop();  // the proxies and the daemon with it
}

void node_core::log(log_level level, const std::string& what) const {
  if (cfg_.log) {
    cfg_.log(level, what);
  } else if (level >= log_level::warning) {
    std::fprintf(stderr, "volley remote [%s]: %s\n", cfg_.name.c_str(), what.c_str());
  }
}

void node_core::publish_dead_letter(std::string sender, std::string recipient, std::string type,
                                    dead_letter_reason reason) {
  sys_.dead_letters().publish({std::move(sender), std::move(recipient), std::move(type), reason});
}

// -- claims on the transport (node_core.hpp, "Reaching the transport") -----------

namespace {

struct claim_registry {
  volley::detail::mutex mu;
  std::vector<claim_slot*> slots VOLLEY_GUARDED_BY(mu);
};

/// Never destroyed: a thread may exit (and unlist its slot) after static
/// destructors have run.
claim_registry& registry() {
  static auto* r = new claim_registry;
  return *r;
}

/// A thread's slot, listed from its first claim until it exits.
struct thread_slot {
  claim_slot* slot = new claim_slot;
  thread_slot() {
    claim_registry& r = registry();
    volley::detail::lock_guard lock(r.mu);
    r.slots.push_back(slot);
  }
  ~thread_slot() {
    this_thread_claim = nullptr;  // the slot is freed below
    {
      claim_registry& r = registry();
      volley::detail::lock_guard lock(r.mu);
      r.slots.erase(std::find(r.slots.begin(), r.slots.end(), slot));
    }
    delete slot;
  }
  thread_slot(const thread_slot&) = delete;
  thread_slot& operator=(const thread_slot&) = delete;
};

thread_local thread_slot this_thread_slot;

}  // namespace

/// Null before its first claim and after thread_slot's destructor.
/// Trivially constructed, so a claim (inline, node_core.hpp) reads it with
/// one thread-pointer load: reaching this_thread_slot itself takes its
/// thread_local guard, and the listing it guards, inlined, made every claim
/// save and restore six registers (callgrind, remote_bench one-way).
constinit thread_local claim_slot* this_thread_claim = nullptr;

claim_slot* list_this_thread() {
  this_thread_claim = this_thread_slot.slot;
  return this_thread_claim;
}

// Whether shutdown can order claims with membarrier(PRIVATE_EXPEDITED)
// (Linux 4.14+, unless a seccomp filter refuses it): then a claim is a
// plain store and a compiler fence, and shutdown pays for the fence of
// every running thread of the process, once. Without it a claim's store is
// a seq_cst exchange: a full fence per send, 3.3% of the one-way profile
// (perf, remote_bench, the proxy's worker), about what the lock cost.
constinit std::atomic<std::uint8_t> asymmetric_fence_state{0};

bool register_asymmetric_fence() noexcept {
  std::uint8_t answer =
      syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 ? 1 : 2;
  std::uint8_t expected = 0;
  // The first answer stands (asymmetric_fence.hpp); relaxed, as its reads.
  if (!asymmetric_fence_state.compare_exchange_strong(expected, answer, std::memory_order_relaxed))
    answer = expected;
  return answer == 1;
}

/// The heavy side of the asymmetric fence: every thread of this process that
/// is running now passes a full barrier before this returns.
void fence_all_threads() noexcept {
  while (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0 && errno == EINTR) {
  }
}

void node_core::wait_for_claims() const {
  // Under the registry's lock: no slot is freed meanwhile. A thread making
  // its first claim waits on the lock before it claims, and then sees null.
  // The claims' other half: a thread between its claim and its load either
  // has its claim visible below or sees the null stored before this.
  if (asymmetric_fence()) fence_all_threads();
  claim_registry& r = registry();
  volley::detail::lock_guard lock(r.mu);
  for (claim_slot* s : r.slots) {
    // Claims last one short call: yielding beats sleeping here.
    while (s->core.load(std::memory_order_seq_cst) == this) std::this_thread::yield();
  }
}

bool log_limiter::admit(std::uint64_t& held_back) noexcept {
  // One line a second per kind: enough to see that it happens and to whom,
  // too few for a peer to flood the log (issue 8 measured ~700k lines/s
  // from one unlimited warning).
  constexpr std::int64_t period_ns = 1'000'000'000;
  std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count();
  std::int64_t next = next_ns_.load(std::memory_order_relaxed);
  // Relaxed: the counters only shape the log; one winner per period is all
  // the CAS has to ensure.
  if (now < next ||
      !next_ns_.compare_exchange_strong(next, now + period_ns, std::memory_order_relaxed)) {
    held_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  held_back = held_.exchange(0, std::memory_order_relaxed);
  return true;
}

node_stats node_core::stats() const {
  node_stats s;
  s.foreign_replies = foreign_replies.load(std::memory_order_relaxed);
  s.refused_messages = refused_messages.load(std::memory_order_relaxed);
  s.refused_stops = refused_stops.load(std::memory_order_relaxed);
  s.superseded_incarnations = superseded_incarnations.load(std::memory_order_relaxed);
  {
    volley::detail::lock_guard lock(links_mu_);
    std::unordered_set<const link*> counted;
    for (const auto& [id, l] : links_) {
      if (!counted.insert(l.get()).second) continue;  // merged: one link under two ids
      volley::detail::lock_guard link_lock(l->mu);
      s.exposed_senders += l->exposed.size();
    }
  }
  s.messages_sent = messages_sent.load();
  s.messages_received = messages_received.load(std::memory_order_relaxed);
  s.send_failures = send_failures.load(std::memory_order_relaxed);
  s.receive_failures = receive_failures.load(std::memory_order_relaxed);
  {
    volley::detail::lock_guard lock(pending_mu_);
    s.pending_asks = pending_.size();
  }
  // Safe without a claim: the object outlives the node (only stopped).
  if (transport_) s.transport = transport_->stats();
  return s;
}

// -- links ------------------------------------------------------------------------

std::shared_ptr<link> node_core::connect(const std::string& host, std::uint16_t port) {
  connection_id id = 0;
  if (!with_transport([&](transport& t) { id = t.connect(host, port); }))
    throw std::logic_error("volley remote: connect on a node that has shut down");
  // on_up may have made the link already (a very fast handshake).
  volley::detail::lock_guard lock(links_mu_);
  auto& l = links_[id];
  if (!l)
    l = std::make_shared<link>(shared_from_this(), id, true, host + ":" + std::to_string(port));
  return l;
}

void node_core::disconnect(const std::shared_ptr<link>& handle) {
  // One association per node pair: disconnecting ends it, whichever
  // connection carries it, and this handle's own connection with it.
  std::shared_ptr<link> l = resolve(handle);
  {
    volley::detail::lock_guard lock(handle->mu);
    if (handle->closed) return;
    handle->closed = true;
  }
  if (l != handle) {
    volley::detail::lock_guard lock(l->mu);
    l->closed = true;
  }
  connection_id route = l->route.load(std::memory_order_relaxed);
  with_transport([&](transport& t) {
    t.disconnect(handle->conn);
    if (route != handle->conn) t.disconnect(route);
    if (l->conn != handle->conn && l->conn != route) t.disconnect(l->conn);
  });
  {
    volley::detail::lock_guard lock(links_mu_);
    links_.erase(handle->conn);
    links_.erase(l->conn);
    links_.erase(route);
  }
  lose(*l, "disconnected from " + l->describe(""));
  // Gone from links_, so no on_down unmerges it: break the cycle with the
  // links merged into it here, or they keep each other and this core alive.
  volley::detail::lock_guard lock(l->mu);
  l->absorbed.clear();
}

std::shared_ptr<link> node_core::resolve(std::shared_ptr<link> l) const {
  // Chains are short (a merge targets a link that is its own, so one hop
  // is the longest a chain gets); the bound, far past that, only guards
  // against a cycle that the merge rules never make.
  constexpr int max_hops = 16;
  for (int hops = 0; l && hops < max_hops; ++hops) {
    std::shared_ptr<link> next;
    {
      volley::detail::lock_guard lock(l->mu);
      next = l->merged_into;
    }
    if (!next) return l;
    l = std::move(next);
  }
  return l;
}

bool node_core::same_association(connection_id a, connection_id b) const {
  if (a == b) return true;
  volley::detail::lock_guard lock(links_mu_);
  auto ia = links_.find(a), ib = links_.find(b);
  return ia != links_.end() && ib != links_.end() && ia->second == ib->second;
}

void node_core::on_merged(const peer_info& from_peer, const peer_info& into_peer) {
  end_streaks();  // another handler call: no frame vouches for the next
  connection_id from = from_peer.id, into = into_peer.id;
  std::shared_ptr<link> loser, winner;
  {
    volley::detail::lock_guard lock(links_mu_);
    auto it = links_.find(from);
    if (it == links_.end()) {
      if (!from_peer.outbound) return;  // an inbound one never up: nothing holds it
      // Ours, and faster than connect() could file its link (a loaded
      // machine can hold the caller that long): file it now; connect()
      // finds it, like a link an early on_up made.
      it = links_
               .emplace(from,
                        std::make_shared<link>(shared_from_this(), from, true, from_peer.address))
               .first;
    }
    loser = it->second;
    auto jt = links_.find(into);
    if (jt == links_.end()) {
      // The winner has no link yet (an inbound connection coming up): the
      // loser's link becomes the association's, under both ids.
      links_[into] = loser;
      loser->route.store(into, std::memory_order_relaxed);
      return;
    }
    winner = jt->second;
    if (winner == loser) return;
    links_[from] = winner;
  }
  // Both have links: the winner's keeps the pair; the loser's proxies and
  // the senders it exposed move over, and its handles follow merged_into.
  std::unordered_map<std::string, any_ref> proxies;
  path_set exposed;
  proxies_epoch.fetch_add(1, std::memory_order_relaxed);
  {
    volley::detail::lock_guard lock(loser->mu);
    loser->merged_into = winner;
    loser->route.store(into, std::memory_order_relaxed);
    proxies.swap(loser->proxies);
    exposed.swap(loser->exposed);
    loser->up_changed.notify_all();  // waiters re-resolve
  }
  std::unordered_map<std::string, any_ref> duplicates;
  {
    volley::detail::lock_guard lock(winner->mu);
    for (auto& [path, ref] : proxies) {
      // A path with a proxy on both sides keeps both (the loser's still
      // sends on the kept connection); the loser's stays in its own map.
      if (!winner->proxies.emplace(path, ref).second) duplicates.emplace(path, std::move(ref));
    }
    winner->exposed.insert(exposed.begin(), exposed.end());
    winner->absorbed.push_back(loser);
  }
  volley::detail::lock_guard lock(loser->mu);
  loser->proxies.swap(duplicates);
}

void node_core::unmerge(link& l) {
  std::vector<std::shared_ptr<link>> absorbed;
  {
    volley::detail::lock_guard lock(l.mu);
    absorbed.swap(l.absorbed);
  }
  proxies_epoch.fetch_add(1, std::memory_order_relaxed);
  l.route.store(l.conn, std::memory_order_relaxed);
  for (auto& a : absorbed) {
    unmerge(*a);
    {
      volley::detail::lock_guard lock(a->mu);
      a->merged_into.reset();
      if (!a->outbound) a->closed = true;  // an inbound connection never comes back
      a->up_changed.notify_all();
    }
    volley::detail::lock_guard lock(links_mu_);
    if (a->outbound) {
      links_[a->conn] = a;  // its own connection reconnects and comes up as itself
    } else {
      links_.erase(a->conn);
    }
  }
}

std::shared_ptr<link> node_core::find_link(connection_id id) const {
  volley::detail::lock_guard lock(links_mu_);
  auto it = links_.find(id);
  return it == links_.end() ? nullptr : it->second;
}

std::shared_ptr<link> node_core::link_for(const peer_info& peer) {
  volley::detail::lock_guard lock(links_mu_);
  auto& l = links_[peer.id];
  if (!l) l = std::make_shared<link>(shared_from_this(), peer.id, peer.outbound, peer.address);
  return l;
}

namespace {
void send_watch(node_core& core, connection_id conn, const std::string& target,
                const std::string& watcher) {
  frame f;
  f.kind = frame_kind::watch;
  f.target_path = target;
  f.sender_path = watcher;
  core.send(conn, f);  // not sent: the connection is not there, nor are its proxies
}
}  // namespace

any_ref node_core::proxy_for(const std::shared_ptr<link>& l, std::string_view path) {
  if (closed_.load(std::memory_order_acquire)) {
    throw std::logic_error("volley remote: select on a node that has shut down");
  }
  if (!valid_path(path, cfg_.transport.limits.max_path_length)) {
    throw std::invalid_argument("volley remote: '" + std::string(path) +
                                "' is not an actor path (/name/..., printable ASCII)");
  }
  std::string key(path);
  // Shown as the actor's path: a sender's incarnation (incarnation.hpp) is
  // for the node that owns it, as the key here and on the wire.
  std::string shown = l->describe(without_incarnation(key));
  any_ref p;
  {
    volley::detail::lock_guard lock(l->mu);
    if (l->closed) throw std::logic_error("volley remote: select on a disconnected remote system");
    auto it = l->proxies.find(key);
    if (it != l->proxies.end() && !it->second.is_stopped()) return it->second;
    p = spawn_actor<proxy>(sys_.core(), root_.cell(), props{}, l, key, shown);
    l->proxies[key] = p;
  }
  // The other side watches the actor for us: when it stops, this proxy stops.
  send_watch(*this, l->route.load(std::memory_order_relaxed), key, p.cell()->local_path());
  return p;
}

void node_core::lose(link& l, const std::string& why) {
  std::unordered_map<std::string, any_ref> gone;
  std::vector<std::shared_ptr<link>> absorbed;
  std::vector<connection_id> ids{l.conn};
  // Relaxed: the loop reads it on its own thread; a frame it handles before
  // it sees the bump is one that raced the loss anyway.
  proxies_epoch.fetch_add(1, std::memory_order_relaxed);
  {
    volley::detail::lock_guard lock(l.mu);
    l.up = false;
    gone.swap(l.proxies);
    l.exposed.clear();  // the next peer on this link has been given no refs
    l.exposed_generation.fetch_add(1, std::memory_order_relaxed);
    l.up_changed.notify_all();
    absorbed = l.absorbed;
  }
  if (connection_id r = l.route.load(std::memory_order_relaxed); r != l.conn) ids.push_back(r);
  // Links merged into this one lose what they still hold (a proxy of a path
  // both had, asks and watches made under their own connection's id).
  for (auto& a : absorbed) {
    volley::detail::lock_guard lock(a->mu);
    for (auto& [path, ref] : a->proxies) gone.emplace(path + "#" + std::to_string(a->conn), ref);
    a->proxies.clear();
    a->up = false;
    a->up_changed.notify_all();
    ids.push_back(a->conn);
  }
  // Watchers of these proxies learn of it through terminated (node_down).
  for (auto& [path, ref] : gone)
    volley::detail::stop_with_reason(ref, volley::termination_reason::node_down);
  for (connection_id id : ids)
    for (auto& p : take_pending_of(id, false)) fail(p, errc::node_down, why);
  // While shutting down the daemon is stopping too (its stop overtakes user
  // messages), and the watches go with it.
  // (is_stopped: the same when the actor system is shutting down first.)
  if (daemon_ && !closed_.load(std::memory_order_acquire) && !daemon_.is_stopped()) {
    for (connection_id id : ids) daemon_.tell(connection_lost{id});
  }
}

// -- pending asks ---------------------------------------------------------------

namespace {

/// How long a plain thread's get() on a busy-polling node looks for its
/// reply before it sleeps (ask.hpp, poll_for_reply). The busy-poll ask
/// round trip on the 2-core VMs is p50 12-17 µs, p99 36 µs, p99.9 120 µs
/// (results/amd-epyc-2c/2026-11-30T06-35-35Z.json): 200 µs covers all but
/// the slowest in a thousand, and a reply later than that is the handler's
/// time, not the hop's, which a futex wake-up (~40 µs) adds little to.
/// The looks yield the core, so on a full machine they cost little more
/// than the other runnable threads leave.
constexpr std::chrono::microseconds reply_poll_window{200};

}  // namespace

bool node_core::add_pending(std::uint64_t id, pending_ask p) {
  // Asks whose reply never came (and whose callers gave up long ago) are
  // swept at most once a second, when asks are being made anyway.
  constexpr auto sweep_every = std::chrono::seconds(1);
  std::vector<pending_ask> stale;
  {
    volley::detail::lock_guard lock(pending_mu_);
    if (!pending_.emplace(id, p).second) return false;
    if (p.sent - last_sweep_ >= sweep_every) {
      last_sweep_ = p.sent;
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (p.sent - it->second.sent > cfg_.request_horizon) {
          stale.push_back(it->second);
          it = pending_.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
  for (auto& s : stale) fail(s, errc::timeout, "no reply within the node's request horizon");
  // A busy-polling loop never sleeps, so the reply reaches the request in
  // about a round trip: the asker, if it waits with get(), looks for it
  // (yielding) through reply_poll_window instead of sleeping after 20 µs.
  if (cfg_.transport.busy_poll) volley::detail::poll_for_reply(p.request, reply_poll_window);
  return true;
}

node_core::reply_match node_core::take_reply(const peer_info& peer, const frame& f,
                                             pending_ask& out) {
  volley::detail::lock_guard lock(pending_mu_);
  auto it = pending_.find(f.correlation_id);
  if (it == pending_.end()) return reply_match::unknown;
  // Another connection of the same association (the ask went out before a
  // simultaneous connect was resolved) is the same authenticated peer.
  if (it->second.conn != peer.id && !same_association(it->second.conn, peer.id))
    return reply_match::other_connection;
  out = it->second;
  pending_.erase(it);
  return reply_match::taken;
}

bool node_core::take_pending(std::uint64_t id, pending_ask& out) {
  volley::detail::lock_guard lock(pending_mu_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return false;
  out = it->second;
  pending_.erase(it);
  return true;
}

std::vector<pending_ask> node_core::take_pending_of(connection_id conn, bool all) {
  std::vector<pending_ask> out;
  volley::detail::lock_guard lock(pending_mu_);
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (all || it->second.conn == conn) {
      out.push_back(it->second);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

void node_core::fail(const pending_ask& p, errc code, const std::string& why) {
  error err{code, why};
  try {
    p.info->complete_request(p.request, nullptr, &err);
  } catch (...) {
    // Only a continuation can throw here; the request is released anyway.
  }
}

}  // namespace detail

// -- public faces -------------------------------------------------------------------

node::node(volley::system& sys, node_config cfg, message_types types)
    : core_(std::make_shared<detail::node_core>(sys, std::move(cfg), std::move(types))) {
  core_->start();
}

node::~node() {
  shutdown();
}

void node::shutdown() {
  core_->shutdown();
}

std::uint16_t node::port() const noexcept {
  return core_->port();
}
const std::string& node::name() const noexcept {
  return core_->name();
}
std::uint64_t node::incarnation() const noexcept {
  return core_->incarnation();
}
node_stats node::stats() const {
  return core_->stats();
}

remote_system node::connect(const std::string& host, std::uint16_t port) {
  return remote_system(core_->connect(host, port));
}

any_ref remote_system::select(std::string_view path) const {
  if (!link_) throw std::logic_error("volley remote: select on an empty remote_system");
  auto l = link_->core->resolve(link_);
  {
    volley::detail::lock_guard lock(link_->mu);
    if (link_->closed)
      throw std::logic_error("volley remote: select on a disconnected remote system");
  }
  return link_->core->proxy_for(l, path);
}

bool remote_system::is_up() const {
  if (!link_) return false;
  auto l = link_->core->resolve(link_);
  volley::detail::lock_guard lock(l->mu);
  return l->up;
}

bool remote_system::wait_up(std::chrono::milliseconds timeout) const {
  if (!link_) return false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // Re-resolved each round: a simultaneous connect may merge this handle's
    // link into another while we wait (the merge wakes us).
    auto l = link_->core->resolve(link_);
    volley::detail::unique_lock lock(l->mu);
    if (l->up) return true;
    if (l->merged_into) continue;
    // A bounded slice: a merge into another link is announced on ours, and
    // the slice is a guard should a wake-up be missed all the same; 50 ms
    // is short beside the handshake's timeout (5 s by default) that callers
    // wait in, and long enough to cost no CPU.
    constexpr auto slice_length = std::chrono::milliseconds(50);
    auto slice = std::min(deadline, std::chrono::steady_clock::now() + slice_length);
    l->up_changed.wait_until(lock.native(), slice);
    if (l->up) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
}

std::string remote_system::peer_name() const {
  if (!link_) return {};
  auto l = link_->core->resolve(link_);
  volley::detail::lock_guard lock(l->mu);
  return l->peer_name;
}

std::uint64_t remote_system::peer_incarnation() const {
  if (!link_) return 0;
  auto l = link_->core->resolve(link_);
  volley::detail::lock_guard lock(l->mu);
  return l->incarnation;
}

void remote_system::disconnect() const {
  if (link_) link_->core->disconnect(link_);
}

}  // namespace volley::remote
