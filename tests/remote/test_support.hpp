// Helpers for the transport tests: a handler that records events and lets the
// test thread wait for them, and a raw blocking TCP peer that speaks the
// protocol by hand (through the public codec and handshake), so tests can
// misbehave in ways a transport never would.
#pragma once

#include <volley/remote/frame_codec.hpp>
#include <volley/remote/handshake.hpp>
#include <volley/remote/transport.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace volley::remote::test {

/// Generous: only reached when an event never comes (a real failure). Not a
/// timing assertion: passing tests never wait this long.
inline constexpr std::chrono::seconds patience{60};

/// Polls `pred` until it holds (for state that no callback announces, such
/// as the close counters); false after `patience`.
template <class Pred>
bool poll_until(Pred pred) {
  auto give_up = std::chrono::steady_clock::now() + patience;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

struct down_event {
  peer_info peer;
  close_reason reason;
  std::string detail;
};

class recording_handler : public transport_handler {
 public:
  void on_up(const peer_info& peer, std::uint64_t previous) override {
    std::lock_guard lock(m_);
    ups.push_back(peer);
    previous_incarnations.push_back(previous);
    cv_.notify_all();
  }
  void on_frame(const peer_info&, const frame& f) override {
    std::lock_guard lock(m_);
    if (f.correlation_id != next_seq) out_of_order = true;
    next_seq = f.correlation_id + 1;
    ++frames;
    last_kind = f.kind;
    last_payload.assign(f.payload.begin(), f.payload.end());
    cv_.notify_all();
  }
  void on_down(const peer_info& peer, close_reason reason, std::string_view detail) override {
    std::lock_guard lock(m_);
    downs.push_back({peer, reason, std::string(detail)});
    cv_.notify_all();
  }
  void on_undelivered(connection_id, const frame&, close_reason) override {
    std::lock_guard lock(m_);
    ++undelivered;
    cv_.notify_all();
  }

  /// Waits until `pred()` (called under the lock) holds; false on timeout.
  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds limit = patience) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, limit, pred);
  }
  template <class F>
  auto with_lock(F f) {
    std::lock_guard lock(m_);
    return f();
  }

  std::vector<peer_info> ups;
  std::vector<std::uint64_t> previous_incarnations;
  std::vector<down_event> downs;
  std::uint64_t frames = 0;
  std::uint64_t next_seq = 0;
  bool out_of_order = false;
  frame_kind last_kind{};
  std::vector<std::byte> last_payload;
  std::uint64_t undelivered = 0;

 private:
  std::mutex m_;
  std::condition_variable cv_;
};

inline transport_config test_config(std::string name, std::string secret = "test-secret") {
  transport_config c;
  c.node_name = std::move(name);
  c.secret = std::move(secret);
  c.listen_port = 0;
  c.reconnect_min_backoff = std::chrono::milliseconds(20);
  c.reconnect_max_backoff = std::chrono::milliseconds(200);
  c.log = [](log_level, std::string_view) {};  // keep test output quiet
  return c;
}

/// For a failing check's INFO: a transport's frame counts.
inline std::string describe(const transport_stats& s) {
  std::ostringstream out;
  out << "queued " << s.frames_queued << ", sent " << s.frames_sent << ", undelivered "
      << s.frames_undelivered << ", fate unknown " << s.frames_fate_unknown << ", closes";
  for (std::size_t r = 0; r < s.closes.size(); ++r) {
    if (s.closes[r] != 0)
      out << ' ' << to_string(static_cast<close_reason>(r)) << '=' << s.closes[r];
  }
  out << ", established " << s.established_connections << ", refused " << s.refused
      << ", pending handshakes " << s.pending_handshakes;
  return out.str();
}

/// For a failing check's INFO: the connections a handler saw go down.
inline std::string describe(const std::vector<down_event>& downs) {
  std::ostringstream out;
  out << downs.size();
  for (const down_event& d : downs) out << " [" << to_string(d.reason) << ": " << d.detail << ']';
  return out.str();
}

/// Collects a transport's (or node's) log lines.
struct log_lines {
  std::mutex m;
  std::vector<std::string> lines;
  std::function<void(log_level, std::string_view)> sink() {
    return [this](log_level, std::string_view s) {
      std::lock_guard lock(m);
      lines.emplace_back(s);
    };
  }
  bool has(const std::string& what) { return count(what) != 0; }
  /// How many lines contain `what`.
  std::size_t count(const std::string& what) {
    std::lock_guard lock(m);
    std::size_t n = 0;
    for (const auto& l : lines) n += l.find(what) != std::string::npos;
    return n;
  }
};

/// A blocking TCP client that speaks the protocol by hand.
class raw_peer {
 public:
  explicit raw_peer(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("raw_peer: connect");
    timeval tv{60, 0};  // a stuck read fails the test instead of hanging it
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~raw_peer() {
    if (fd_ >= 0) ::close(fd_);
  }
  raw_peer(const raw_peer&) = delete;
  raw_peer& operator=(const raw_peer&) = delete;

  void write_all(std::span<const std::byte> bytes) {
    std::size_t at = 0;
    while (at < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("raw_peer: send");
      at += static_cast<std::size_t>(n);
    }
  }
  /// Writes one byte per segment, each after a pause, so the receiver's
  /// reads see them one at a time (Nagle off: nothing is held back). Stops
  /// quietly when the receiver has closed; returns the bytes written.
  std::size_t write_dripping(std::span<const std::byte> bytes) {
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::size_t written = 0;
    for (std::byte b : bytes) {
      if (::send(fd_, &b, 1, MSG_NOSIGNAL) != 1) break;
      ++written;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return written;
  }
  void send_frame(const frame& f) {
    std::vector<std::byte> b;
    encode_append(f, b);
    write_all(b);
  }

  /// A received frame, owned (handshake and control frames only need these fields).
  struct received {
    frame_kind kind{};
    std::uint64_t correlation_id = 0;
    std::string sender_node;
    std::vector<std::byte> payload;
    frame view() const {
      frame f;
      f.kind = kind;
      f.sender_node = sender_node;
      f.payload = payload;
      return f;
    }
  };

  /// Reads until the next frame arrives; false at EOF or error.
  bool next_frame(received& out) {
    for (;;) {
      if (!pending_.empty()) {
        out = std::move(pending_.front());
        pending_.erase(pending_.begin());
        return true;
      }
      std::byte buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        ended_ = n == 0;
        return false;
      }
      decoder_.feed(std::span<const std::byte>(buf, static_cast<std::size_t>(n)),
                    [&](const frame& f) {
                      pending_.push_back({f.kind,
                                          f.correlation_id,
                                          std::string(f.sender_node),
                                          {f.payload.begin(), f.payload.end()}});
                    });
    }
  }

  /// Reads frames until EOF; returns the kinds seen.
  std::vector<frame_kind> read_until_eof() {
    std::vector<frame_kind> kinds;
    received r;
    while (next_frame(r)) kinds.push_back(r.kind);
    return kinds;
  }

  /// Runs the initiator side of the handshake; true when accepted.
  /// `incarnation` 0: a random one (another node's: its connection's twin).
  bool handshake_as(const std::string& name, const std::string& secret,
                    std::uint64_t incarnation = 0) {
    handshake_config c;
    c.node_name = name;
    c.incarnation = incarnation != 0 ? incarnation : random_incarnation();
    c.secret = secret;
    handshake hs(handshake::role::initiator, c);
    std::vector<std::byte> out;
    hs.start(out);
    write_all(out);
    while (!hs.established() && !hs.failed()) {
      received r;
      if (!next_frame(r)) return false;
      out.clear();
      hs.on_frame(r.view(), out);
      if (!out.empty()) write_all(out);
    }
    return hs.established();
  }

  int fd() const { return fd_; }
  /// After next_frame() returned false: whether the stream ended (rather
  /// than failing or timing out), and how many bytes of an unfinished frame
  /// it ended inside.
  bool ended() const { return ended_; }
  std::size_t unfinished_bytes() const { return decoder_.buffered(); }

 private:
  int fd_ = -1;
  bool ended_ = false;
  frame_decoder decoder_;
  std::vector<received> pending_;
};

/// A user message to target id 1 whose correlation id carries `seq`, so a
/// receiver can check order and count.
inline frame numbered_frame(std::uint64_t seq) {
  frame f;
  f.kind = frame_kind::message;
  f.flags = flag_target_id;
  f.target_id = 1;
  f.correlation_id = seq;
  return f;
}

/// The accounting identity: every frame queued was written, undelivered, or
/// lost with its write (fate unknown).
inline bool balanced(const transport_stats& s) {
  return s.frames_queued == s.frames_sent + s.frames_undelivered + s.frames_fate_unknown;
}

/// The third (maximum) figure of /proc/sys/net/ipv4/tcp_wmem or tcp_rmem:
/// what one socket buffer can hold at most (the bound on frames whose fate
/// a lost connection leaves unknown).
inline std::size_t tcp_buffer_max(const char* which) {
  std::string path = std::string("/proc/sys/net/ipv4/") + which;
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) throw std::runtime_error("tcp_buffer_max: cannot open " + path);
  unsigned long lo = 0, def = 0, hi = 0;
  int n = std::fscanf(f, "%lu %lu %lu", &lo, &def, &hi);
  std::fclose(f);
  if (n != 3) throw std::runtime_error("tcp_buffer_max: cannot parse " + path);
  return hi;
}

/// A loopback port whose listener never accepts: the kernel completes TCP's
/// handshake into the backlog and nothing ever answers, so a transport's
/// outbound connection to it stays handshaking (until handshake_timeout)
/// with its frames queued. Unlike a closed port, whose refused connects
/// drop the queue at a moment the test does not choose.
class silent_listener {
 public:
  silent_listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(fd_, 16) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("silent_listener: listen");
    port_ = ntohs(a.sin_port);
  }
  ~silent_listener() { ::close(fd_); }
  silent_listener(const silent_listener&) = delete;
  silent_listener& operator=(const silent_listener&) = delete;
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace volley::remote::test
