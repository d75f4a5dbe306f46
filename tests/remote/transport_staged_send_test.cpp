// Staged sends (transport.cpp, "Staged sends"): a streaming thread's frames
// wait in a chain of its own and reach the inbox in batches. What must hold:
// nothing staged is stranded (a thread that pauses, exits, or races a stop),
// each thread's frames stay in order, and every frame is counted once.
#include "test_support.hpp"

#include <volley/remote/transport.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

using namespace volley::remote;
using namespace volley::remote::test;
using namespace std::chrono_literals;

namespace {

/// Counts frames by sender (type_marker) and checks each sender's sequence
/// (correlation_id counts up from 0).
struct by_sender : transport_handler {
  explicit by_sender(std::size_t senders) : next(senders, 0) {}
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::uint64_t> next;
  std::uint64_t total = 0;
  bool out_of_order = false;

  void on_frame(const peer_info&, const frame& f) override {
    std::lock_guard lock(m);
    auto s = static_cast<std::size_t>(f.type_marker);
    if (s >= next.size() || f.correlation_id != next[s]) {
      out_of_order = true;
    } else {
      ++next[s];
    }
    ++total;
    cv.notify_all();
  }
  bool wait_for_total(std::uint64_t n) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, patience, [&] { return total == n; });
  }
};

frame numbered(std::size_t sender, std::uint64_t seq, std::span<const std::byte> payload) {
  frame f;
  f.kind = frame_kind::message;  // tells are what a stream stages
  f.flags = flag_target_id;
  f.target_id = 1;
  f.type_marker = sender;
  f.correlation_id = seq;
  f.payload = payload;
  return f;
}

/// Retries while the outbound bound is full. Runs on the sending threads, so
/// no Catch assertion here (Catch is not thread-safe): false when send
/// answers anything but queued or queue_full, which the test counts.
bool send_until_queued(transport& t, connection_id id, const frame& f) {
  for (;;) {
    send_result r = t.send(id, f);
    if (r == send_result::queued) return true;
    if (r != send_result::queue_full) return false;
    std::this_thread::yield();
  }
}

/// Streams sender `s`'s numbered frames until send() answers neither queued
/// nor queue_full (full: the same number again), or `halt` is set. Counts
/// each frame queued in `taken` and, after its send returned, in `returned`.
void stream(transport& t, connection_id id, std::size_t s, std::atomic<std::uint64_t>& taken,
            const std::atomic<bool>* halt = nullptr,
            std::atomic<std::uint64_t>* returned = nullptr) {
  std::array<std::byte, 8> payload{};
  for (std::uint64_t i = 0; halt == nullptr || !halt->load();) {
    send_result r = t.send(id, numbered(s, i, payload));
    if (r == send_result::queued) {
      taken.fetch_add(1);
      ++i;
      if (returned != nullptr) returned->store(i);
    } else if (r != send_result::queue_full) {
      return;  // stopped, or the connection is gone
    }
  }
}

/// Two transports, B connected to A; A's handler counts by sender.
struct connected_pair {
  explicit connected_pair(std::size_t senders, transport_config cfg_b = test_config("node-b"))
      : ha(senders), a(test_config("node-a"), ha), b(std::move(cfg_b), hb) {}
  by_sender ha;
  recording_handler hb;
  transport a;
  transport b;
  connection_id id = b.connect("127.0.0.1", a.port());

  bool up() {
    return hb.wait([&] { return hb.ups.size() == 1; });
  }
};

/// A connected pair, up, and `n` threads streaming to its connection
/// (stream()) until it answers them otherwise or halt is set; join() waits
/// for them (their staged frames go at thread exit).
struct streamers {
  explicit streamers(std::size_t n) : pair(n), returned(n) {
    REQUIRE(pair.up());
    for (std::size_t s = 0; s < n; ++s)
      threads.emplace_back([this, s] { stream(pair.b, pair.id, s, taken, &halt, &returned[s]); });
  }
  ~streamers() { join(); }
  void join() {
    halt = true;
    for (auto& th : threads)
      if (th.joinable()) th.join();
  }
  connected_pair pair;
  std::atomic<std::uint64_t> taken{0};
  std::atomic<bool> halt{false};
  std::vector<std::atomic<std::uint64_t>> returned;  ///< per sender: sends returned queued
  std::vector<std::thread> threads;
};

}  // namespace

TEST_CASE("frames staged by threads that pause and stay alive all arrive, each thread's in order",
          "[remote][transport][stage]") {
  // Bursts of 1..100 frames (a burst is staged but for its last chain's
  // tail), a pause, and at the end every thread waits, alive, until all
  // has arrived: the tails can only arrive if the loop sweeps them.
  constexpr std::size_t senders = 4;
  constexpr std::uint64_t per_sender = 20'000;
  auto cfg_b = test_config("node-b");
  cfg_b.max_queued_frames = 512;  // small: credit and the bound meet often
  connected_pair t(senders, cfg_b);
  std::atomic<bool> all_in{false};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (std::size_t s = 0; s < senders; ++s) {
    threads.emplace_back([&, s] {
      std::mt19937 rng(static_cast<unsigned>(s + 1));
      std::array<std::byte, 24> payload{};
      std::uint64_t i = 0;
      while (i < per_sender) {
        std::uint64_t burst = 1 + rng() % 100;
        for (std::uint64_t k = 0; k < burst && i < per_sender; ++k, ++i)
          if (!send_until_queued(t.b, t.id, numbered(s, i, payload))) ++refused;
        if (rng() % 8 == 0) std::this_thread::sleep_for(200us);  // longer than a sweep's wait
      }
      while (!all_in.load()) std::this_thread::sleep_for(1ms);  // alive, sending nothing
    });
  }
  bool arrived = t.ha.wait_for_total(senders * per_sender);
  all_in = true;
  for (auto& th : threads) th.join();
  CHECK(refused == 0);
  REQUIRE(arrived);
  std::lock_guard lock(t.ha.m);
  CHECK_FALSE(t.ha.out_of_order);
  CHECK(poll_until([&] { return t.b.stats().frames_sent == senders * per_sender; }));
  CHECK(t.b.stats().frames_queued == senders * per_sender);
}

TEST_CASE("a thread that exits right after a burst has its staged frames pushed",
          "[remote][transport][stage]") {
  constexpr std::size_t senders = 8;
  constexpr std::uint64_t burst = 37;  // a full chain and a staged tail
  connected_pair t(senders);
  REQUIRE(t.up());
  std::atomic<int> refused{0};
  for (std::size_t s = 0; s < senders; ++s) {
    std::thread([&, s] {
      std::array<std::byte, 8> payload{};
      for (std::uint64_t i = 0; i < burst; ++i)
        if (!send_until_queued(t.b, t.id, numbered(s, i, payload))) ++refused;
    }).join();
  }
  CHECK(refused == 0);
  REQUIRE(t.ha.wait_for_total(senders * burst));
  std::lock_guard lock(t.ha.m);
  CHECK_FALSE(t.ha.out_of_order);
}

TEST_CASE("frames staged while a transport stops are each counted once",
          "[remote][transport][stage]") {
  // Threads stream until the stop; every frame send() took is then sent,
  // undelivered or of unknown fate, exactly: none is left in a chain.
  constexpr std::size_t senders = 3;
  for (int round = 0; round < 5; ++round) {
    streamers run(senders);
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + 10 * round));
    run.pair.b.stop();
    run.join();
    transport_stats st = run.pair.b.stats();
    CHECK(st.frames_queued == run.taken.load());
    CHECK(st.frames_queued == st.frames_sent + st.frames_undelivered + st.frames_fate_unknown);
    auto& hb = run.pair.hb;
    CHECK(hb.with_lock([&] { return hb.undelivered; }) == st.frames_undelivered);
  }
}

TEST_CASE("a disconnect sends the frames other threads staged before it",
          "[remote][transport][stage]") {
  // Threads stream to one connection; another thread disconnects it. A frame
  // whose send() returned before disconnect() was called must go out before
  // the close (the peer handles it), not be counted undelivered because it
  // still waited in its thread's chain when the command overtook it. Frames
  // sent during or after the call may go either way. And every frame send()
  // took is counted once: queued = taken = sent + undelivered + fate unknown.
  constexpr std::size_t senders = 3;
  for (int round = 0; round < 5; ++round) {
    streamers run(senders);
    connected_pair& t = run.pair;
    std::this_thread::sleep_for(std::chrono::milliseconds(2 + round));
    std::array<std::uint64_t, senders> before{};
    for (std::size_t s = 0; s < senders; ++s) before[s] = run.returned[s].load();
    t.b.disconnect(t.id);
    std::this_thread::sleep_for(2ms);
    run.join();
    transport_stats st{};
    CHECK(poll_until([&] {
      st = t.b.stats();
      return st.frames_queued == st.frames_sent + st.frames_undelivered + st.frames_fate_unknown;
    }));
    CHECK(st.frames_queued == run.taken.load());
    INFO("round " << round << ": queued " << st.frames_queued << ", sent " << st.frames_sent
                  << ", undelivered " << st.frames_undelivered << ", fate unknown "
                  << st.frames_fate_unknown);
    // What was sent arrives soon; what was counted undelivered never does.
    auto handled_before = [&] {
      std::lock_guard lock(t.ha.m);
      for (std::size_t s = 0; s < senders; ++s)
        if (t.ha.next[s] < before[s]) return false;
      return true;
    };
    for (auto give_up = std::chrono::steady_clock::now() + 5s;
         !handled_before() && std::chrono::steady_clock::now() < give_up;)
      std::this_thread::sleep_for(1ms);
    std::lock_guard lock(t.ha.m);
    CHECK_FALSE(t.ha.out_of_order);
    for (std::size_t s = 0; s < senders; ++s) {
      INFO("sender " << s << ": " << before[s] << " returned before the disconnect, "
                     << t.ha.next[s] << " handled by the peer");
      CHECK(t.ha.next[s] >= before[s]);
    }
  }
}
