// remote::node: its lifecycle, its links to other systems and their proxies,
// and the table of asks waiting for replies. The protocol of threads and
// lifetimes is in node_core.hpp; inbound frames are in inbound.cpp,
// outbound messages in proxy.cpp.
#include "node_core.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace volley::remote {

namespace detail {

using volley::detail::spawn_actor;

std::string link::describe(std::string_view path) const {
  volley::detail::lock_guard lock(mu);
  return "remote://" + (peer_name.empty() ? address : peer_name) + std::string(path);
}

node_core::node_core(volley::system& sys, node_config cfg, message_types types)
    : sys_(sys), cfg_(std::move(cfg)), types_(std::move(types)) {}

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
    auto t = std::make_unique<transport>(std::move(tc), *this);
    port_ = t->port();
    incarnation_ = t->incarnation();
    volley::detail::exclusive_lock lock(transport_mu_);
    transport_ = std::move(t);
  } catch (...) {
    root_.stop();
    throw;
  }
}

void node_core::shutdown() {
  if (closed_.exchange(true)) return;
  std::unique_ptr<transport> t;
  {
    // Waits for sends in progress; later ones see no transport.
    volley::detail::exclusive_lock lock(transport_mu_);
    t = std::move(transport_);
  }
  t.reset();  // joins the loop: every link that was up is lost (on_down) first
  std::vector<std::shared_ptr<link>> links;
  {
    volley::detail::lock_guard lock(links_mu_);
    for (auto& [id, l] : links_) links.push_back(l);
    links_.clear();
  }
  for (auto& l : links) {
    lose(*l, "node " + cfg_.name + " shut down");
    volley::detail::lock_guard lock(l->mu);
    l->closed = true;
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

send_result node_core::send(connection_id id, const frame& f) {
  volley::detail::shared_lock lock(transport_mu_);
  if (!transport_) return send_result::stopped;
  return transport_->send(id, f);
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
    for (const auto& [id, l] : links_) {
      volley::detail::lock_guard link_lock(l->mu);
      s.exposed_senders += l->exposed.size();
    }
  }
  s.messages_sent = messages_sent.load(std::memory_order_relaxed);
  s.messages_received = messages_received.load(std::memory_order_relaxed);
  s.send_failures = send_failures.load(std::memory_order_relaxed);
  s.receive_failures = receive_failures.load(std::memory_order_relaxed);
  {
    volley::detail::lock_guard lock(pending_mu_);
    s.pending_asks = pending_.size();
  }
  volley::detail::shared_lock lock(transport_mu_);
  if (transport_) s.transport = transport_->stats();
  return s;
}

// -- links ------------------------------------------------------------------------

std::shared_ptr<link> node_core::connect(const std::string& host, std::uint16_t port) {
  connection_id id;
  {
    volley::detail::shared_lock lock(transport_mu_);
    if (!transport_) throw std::logic_error("volley remote: connect on a node that has shut down");
    id = transport_->connect(host, port);
  }
  // on_up may have made the link already (a very fast handshake).
  volley::detail::lock_guard lock(links_mu_);
  auto& l = links_[id];
  if (!l)
    l = std::make_shared<link>(shared_from_this(), id, true, host + ":" + std::to_string(port));
  return l;
}

void node_core::disconnect(const std::shared_ptr<link>& l) {
  {
    volley::detail::lock_guard lock(l->mu);
    if (l->closed) return;
    l->closed = true;
  }
  {
    volley::detail::shared_lock lock(transport_mu_);
    if (transport_) transport_->disconnect(l->conn);
  }
  {
    volley::detail::lock_guard lock(links_mu_);
    links_.erase(l->conn);
  }
  lose(*l, "disconnected from " + l->describe(""));
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
bool valid_path(std::string_view path, std::size_t max) {
  if (path.empty() || path.size() > max || path.front() != '/') return false;
  for (char ch : path) {
    if (ch < 0x21 || ch > 0x7e) return false;
  }
  return true;
}

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
  any_ref p;
  {
    volley::detail::lock_guard lock(l->mu);
    if (l->closed) throw std::logic_error("volley remote: select on a disconnected remote system");
    auto it = l->proxies.find(key);
    if (it != l->proxies.end() && !it->second.is_stopped()) return it->second;
    p = spawn_actor<proxy>(sys_.core(), root_.cell(), props{}, l, key);
    l->proxies[key] = p;
  }
  // The other side watches the actor for us: when it stops, this proxy stops.
  send_watch(*this, l->conn, key, p.path());
  return p;
}

void node_core::lose(link& l, const std::string& why) {
  std::unordered_map<std::string, any_ref> gone;
  {
    volley::detail::lock_guard lock(l.mu);
    l.up = false;
    gone.swap(l.proxies);
    l.exposed.clear();  // the next peer on this link has been given no refs
    l.exposed_generation.fetch_add(1, std::memory_order_relaxed);
    l.up_changed.notify_all();
  }
  // Watchers of these proxies learn of it through terminated (node_down).
  for (auto& [path, ref] : gone)
    volley::detail::stop_with_reason(ref, volley::termination_reason::node_down);
  for (auto& p : take_pending_of(l.conn, false)) fail(p, errc::node_down, why);
  // While shutting down the daemon is stopping too (its stop overtakes user
  // messages), and the watches go with it.
  // (is_stopped: the same when the actor system is shutting down first.)
  if (daemon_ && !closed_.load(std::memory_order_acquire) && !daemon_.is_stopped()) {
    daemon_.tell(connection_lost{l.conn});
  }
}

// -- pending asks ---------------------------------------------------------------

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
  return true;
}

node_core::reply_match node_core::take_reply(const peer_info& peer, const frame& f,
                                             pending_ask& out) {
  volley::detail::lock_guard lock(pending_mu_);
  auto it = pending_.find(f.correlation_id);
  if (it == pending_.end()) return reply_match::unknown;
  if (it->second.conn != peer.id) return reply_match::other_connection;
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
  return link_->core->proxy_for(link_, path);
}

bool remote_system::is_up() const {
  if (!link_) return false;
  volley::detail::lock_guard lock(link_->mu);
  return link_->up;
}

bool remote_system::wait_up(std::chrono::milliseconds timeout) const {
  if (!link_) return false;
  volley::detail::unique_lock lock(link_->mu);
  // A loop rather than wait_for's predicate: the analysis cannot see that a
  // lambda runs with mu held.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!link_->up) {
    if (link_->up_changed.wait_until(lock.native(), deadline) == std::cv_status::timeout) {
      return link_->up;
    }
  }
  return true;
}

std::string remote_system::peer_name() const {
  if (!link_) return {};
  volley::detail::lock_guard lock(link_->mu);
  return link_->peer_name;
}

std::uint64_t remote_system::peer_incarnation() const {
  if (!link_) return 0;
  volley::detail::lock_guard lock(link_->mu);
  return link_->incarnation;
}

void remote_system::disconnect() const {
  if (link_) link_->core->disconnect(link_);
}

}  // namespace volley::remote
