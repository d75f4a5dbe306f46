// transport: construction and teardown, and the side that other threads use
// (connect, disconnect; send() is in transport_stage.cpp, with the stage it
// inlines). The loop thread's half is transport_loop.cpp.
#include "transport_impl.hpp"

#include <volley/engine/ask.hpp>  // on_worker_thread

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <system_error>

namespace volley::remote {

std::string_view to_string(close_reason r) noexcept {
  switch (r) {
    case close_reason::local_close:
      return "local close";
    case close_reason::peer_closed:
      return "peer closed";
    case close_reason::oversized_frame:
      return "oversized frame";
    case close_reason::malformed_header:
      return "malformed header";
    case close_reason::unknown_kind:
      return "unknown frame kind";
    case close_reason::truncated_payload:
      return "truncated payload";
    case close_reason::bad_path:
      return "bad path";
    case close_reason::handshake_failed:
      return "handshake failed";
    case close_reason::rejected_by_peer:
      return "rejected by peer";
    case close_reason::handshake_timeout:
      return "handshake timeout";
    case close_reason::protocol_violation:
      return "protocol violation";
    case close_reason::heartbeat_timeout:
      return "heartbeat timeout (peer down)";
    case close_reason::connect_failed:
      return "connect failed";
    case close_reason::io_error:
      return "i/o error";
    case close_reason::simultaneous_connect:
      return "simultaneous connect (another connection to the node is kept)";
    case close_reason::node_restarted:
      return "node restarted (a new incarnation)";
    case close_reason::count_:
      break;
  }
  return "unknown";
}

std::string_view to_string(send_result r) noexcept {
  switch (r) {
    case send_result::queued:
      return "queued";
    case send_result::queue_full:
      return "outbound queue full";
    case send_result::unknown_connection:
      return "unknown connection";
    case send_result::invalid_frame:
      return "invalid frame";
    case send_result::stopped:
      return "transport stopped";
  }
  return "unknown";
}

namespace {

bool valid_node_name(std::string_view n) {
  frame f;
  f.kind = frame_kind::hello;
  f.sender_node = n;
  return !n.empty() && validate(f) == decode_error::none;
}

int open_listener(const std::string& host, std::uint16_t port, std::uint16_t& bound) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0)
    throw std::system_error(EINVAL, std::generic_category(),
                            "volley::remote: resolve " + host + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, freeaddrinfo);
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "volley::remote: socket");
  int one = 1;
  // A restarted node must get its port back while old connections sit in TIME_WAIT.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
    int e = errno;
    ::close(fd);
    throw std::system_error(
        e, std::generic_category(),
        "volley::remote: cannot listen on " + host + ":" + std::to_string(port));
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  bound = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                         : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return fd;
}

}  // namespace

namespace {

std::atomic<std::uint64_t> next_serial{1};

}  // namespace

transport::impl::impl(transport_config c, transport_handler& h)
    : cfg_(std::move(c)),
      handler_(h),
      serial_(next_serial.fetch_add(1, std::memory_order_relaxed)) {
  if (!valid_node_name(cfg_.node_name))
    throw std::invalid_argument("volley::remote: node name '" + cfg_.node_name +
                                "' must be 1..255 of letters, digits and . _ - : @");
  if (cfg_.secret.empty())
    throw std::invalid_argument("volley::remote: the shared secret must not be empty");
  if (cfg_.heartbeat_interval.count() <= 0)
    throw std::invalid_argument("volley::remote: heartbeat_interval must be > 0");
  if (cfg_.limits.max_frame_size < max_handshake_frame_size)
    throw std::invalid_argument("volley::remote: max_frame_size must be at least " +
                                std::to_string(max_handshake_frame_size) +
                                " (the largest handshake frame)");
  if (cfg_.busy_poll_idle <= std::chrono::microseconds::zero() ||
      cfg_.busy_poll_idle > max_busy_poll_idle)
    throw std::invalid_argument(
        "volley::remote: busy_poll_idle must be > 0 and at most 60 s (it is " +
        std::to_string(cfg_.busy_poll_idle.count()) + " us); to never poll, leave busy_poll off");
  if (cfg_.recv_buffer_size < min_recv_buffer_size)
    throw std::invalid_argument("volley::remote: recv_buffer_size must be >= " +
                                std::to_string(min_recv_buffer_size));
  cfg_.phi.first_heartbeat_estimate = cfg_.heartbeat_interval;
  cfg_.max_queued_frames = std::min(cfg_.max_queued_frames, detail::link_shared::max_frames);
  cfg_.max_queued_bytes = std::min(cfg_.max_queued_bytes, detail::link_shared::max_bytes);
  hs_config_.node_name = cfg_.node_name;
  hs_config_.secret = cfg_.secret;
  hs_config_.incarnation = cfg_.incarnation ? cfg_.incarnation : random_incarnation();

  // Bad TLS files fail the node here, with the file and the fix named.
  if (cfg_.tls.enabled()) tls_ = std::make_unique<detail::tls_context>(cfg_.tls);

  if (cfg_.listen) listen_fd_ = open_listener(cfg_.listen_host, cfg_.listen_port, port_);
  event_fd_ = eventfd(0, EFD_CLOEXEC);
  if (event_fd_ < 0) {
    int e = errno;
    if (listen_fd_ >= 0) ::close(listen_fd_);
    throw std::system_error(e, std::generic_category(), "volley::remote: eventfd");
  }
  // The ring is created on the loop thread (SINGLE_ISSUER binds it to its
  // creator); construction waits for it so that a missing io_uring is an
  // exception here, not a dead thread.
  std::promise<void> ready;
  auto started = ready.get_future();
  thread_ = std::thread([this, &ready] { run(ready); });
  try {
    started.get();
  } catch (...) {
    thread_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    ::close(event_fd_);
    throw;
  }
}

transport::impl::~impl() {
  stop();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  ::close(event_fd_);
}

void transport::impl::stop() {
  if (thread_.joinable()) {
    stopping_.store(true, std::memory_order_seq_cst);
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(event_fd_, &one, sizeof one);
    thread_.join();
  }
  // Chains staged by other threads go into the inbox, and their stages are
  // detached: a send that raced the stopping_ check finishes first.
  // They stay in stages_ (stats() counts their frames there) until the
  // sweep has detached them; then no more is staged and their counts move
  // to the retired sum.
  std::vector<std::shared_ptr<send_stage>> stages;
  {
    volley::detail::lock_guard lock(stages_mutex_);
    if (!stages_closed_) stages = stages_;
    stages_closed_ = true;
  }
  sweep_each(std::move(stages), true);
  {
    volley::detail::lock_guard lock(stages_mutex_);
    for (const auto& s : stages_) retired_appended_ += s->appended.load(std::memory_order_relaxed);
    stages_.clear();
  }
  // The loop is gone: what producers pushed meanwhile (they raced the
  // stopping_ check in send) is reported and freed here.
  frames_undelivered_.fetch_add(undeliver_inbox(), std::memory_order_relaxed);
}

void transport::impl::log(log_level level, const std::string& text) const {
  if (cfg_.log) {
    cfg_.log(level, text);
    return;
  }
  if (level >= log_level::warning)
    std::fprintf(stderr, "volley::remote [%s] %s\n", cfg_.node_name.c_str(), text.c_str());
}

void transport::impl::push(outbound_item* item) {
  inbox_.push(item);
  // seq_cst load after the seq_cst push: see "Sleep/wake" in transport_loop.cpp.
  // The plain load first keeps a busy loop's flag in shared state, so producers
  // do not bounce its cache line with an exchange per message.
  if (sleeping_.load(std::memory_order_seq_cst) &&
      sleeping_.exchange(false, std::memory_order_seq_cst))
    wake();
}

void transport::impl::wake() {
  wakeups_.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(event_fd_, &one, sizeof one);
}

connection_id transport::impl::connect(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0)
    throw std::system_error(EINVAL, std::generic_category(),
                            "volley::remote: cannot resolve " + host + ": " + gai_strerror(rc));
  auto* item = outbound_item::make(outbound_item::type::connect, 0,
                                   static_cast<std::uint32_t>(res->ai_addrlen));
  std::memcpy(item->data(), res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  connection_id id = next_id_.fetch_add(1, std::memory_order_relaxed);
  item->id = id;
  {
    // Registered before the loop sees the command, so send() works at once.
    volley::detail::exclusive_lock lock(links_mutex_);
    links_.emplace(id, std::make_shared<detail::link_shared>());
  }
  push(item);
  return id;
}

void transport::impl::disconnect(connection_id id) {
  flush_all_stages();  // every thread's frames staged so far go first
  push(outbound_item::make(outbound_item::type::disconnect, id, 0));
}

void transport::impl::reset(connection_id id) {
  flush_all_stages();
  push(outbound_item::make(outbound_item::type::reset, id, 0));
}

// -- public facade ----------------------------------------------------------------

transport::transport(transport_config config, transport_handler& handler)
    : impl_(std::make_unique<impl>(std::move(config), handler)) {}
transport::~transport() = default;
std::uint16_t transport::port() const noexcept {
  return impl_->port_;
}
const std::string& transport::node_name() const noexcept {
  return impl_->cfg_.node_name;
}
std::uint64_t transport::incarnation() const noexcept {
  return impl_->hs_config_.incarnation;
}
connection_id transport::connect(const std::string& host, std::uint16_t port) {
  return impl_->connect(host, port);
}
void transport::disconnect(connection_id id) {
  impl_->disconnect(id);
}
void transport::reset(connection_id id) {
  impl_->reset(id);
}
void transport::stop() {
  impl_->stop();
}
send_result transport::send(connection_id id, const frame& f, path_check paths) {
  return impl_->send(id, f, paths);
}

transport_stats transport::stats() const {
  transport_stats s;
  for (std::size_t i = 0; i < s.closes.size(); ++i)
    s.closes[i] = impl_->closes_[i].load(std::memory_order_relaxed);
  s.frames_sent = impl_->frames_sent_.load(std::memory_order_relaxed);
  s.frames_received = impl_->frames_received_.load(std::memory_order_relaxed);
  s.frames_discarded = impl_->frames_discarded_.load(std::memory_order_relaxed);
  s.send_calls = impl_->send_calls_.load(std::memory_order_relaxed);
  s.wakeups = impl_->wakeups_.load(std::memory_order_relaxed);
  s.sleeps = impl_->sleeps_.load(std::memory_order_relaxed);
  s.poll_looks = impl_->poll_looks_.load(std::memory_order_relaxed);
  s.poll_rests = impl_->poll_rests_.load(std::memory_order_relaxed);
  s.refused = impl_->refused_.load(std::memory_order_relaxed);
  s.frames_undelivered = impl_->frames_undelivered_.load(std::memory_order_relaxed);
  s.direct_writes = impl_->direct_sent_.load(std::memory_order_relaxed);
  s.frames_sent += s.direct_writes;
  s.frames_fate_unknown = impl_->frames_fate_unknown_.load(std::memory_order_relaxed) +
                          impl_->direct_fate_unknown_.load(std::memory_order_relaxed);
  s.accept_pauses = impl_->accept_pauses_.load(std::memory_order_relaxed);
  s.inbound_connections = impl_->inbound_gauge_.load(std::memory_order_relaxed);
  s.pending_handshakes = impl_->pending_gauge_.load(std::memory_order_relaxed);
  s.established_connections = impl_->established_gauge_.load(std::memory_order_relaxed);
  // Last: a frame counted by the loop above was counted here before it was
  // pushed, so the sum read now is not smaller (queued >= sent + undelivered
  // + fate unknown at every instant).
  s.frames_queued = impl_->frames_queued_.load() + impl_->staged_frames_queued();
  return s;
}

}  // namespace volley::remote
