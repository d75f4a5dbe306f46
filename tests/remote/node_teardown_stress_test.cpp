// remote::node torn down under load: sends race shutdown on every thread
// that can send (tellers, the proxies' workers, the loop), and every message
// must still end in exactly one place. The node reaches its transport
// without a lock (node_core.hpp, "Reaching the transport"); these tests are
// what shows that the claim protocol neither loses a frame nor touches a
// stopped transport (ASan, TSan).
#include "node_test_support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace volley::remote::test;
using namespace std::chrono_literals;
using volley::remote::node;
using volley::remote::remote_system;

namespace {

constexpr int tellers = 4;

volley::config quiet_system() {
  volley::config c = system_config();
  c.dead_letter_log_first = 0;  // tens of thousands are expected here
  return c;
}

/// Counts the dead letters of `numbered` messages, and any reason that is
/// not one a message racing a shutdown may have.
class numbered_dead_letters {
 public:
  explicit numbered_dead_letters(volley::system& sys)
      : sub_(sys.dead_letters().subscribe([this](const volley::dead_letter& d) {
          if (d.type.find("numbered") == std::string::npos) return;
          count_.fetch_add(1);
          if (d.reason != volley::dead_letter_reason::recipient_stopped &&
              d.reason != volley::dead_letter_reason::remote_failure)
            odd_reasons_.fetch_add(1);
        })) {}
  std::uint64_t count() const { return count_.load(); }
  std::uint64_t odd_reasons() const { return odd_reasons_.load(); }

 private:
  std::atomic<std::uint64_t> count_{0}, odd_reasons_{0};
  volley::dead_letters::subscription sub_;
};

/// B with one collector per teller (so that several proxies, on several of
/// A's workers, send at once), and A connected to it.
struct racing_nodes {
  seen_state seen;
  volley::system sys_a{quiet_system()};
  volley::system sys_b{quiet_system()};
  std::vector<volley::actor_ref<collector_actor>> collectors = [this] {
    std::vector<volley::actor_ref<collector_actor>> v;
    for (int i = 0; i < tellers; ++i)
      v.push_back(sys_b.spawn<collector_actor>(
          volley::props{.name = "collector" + std::to_string(i)}, &seen));
    return v;
  }();
  numbered_dead_letters dead_at_a{sys_a};
  node node_b{sys_b,
              [] {
                auto c = node_config_for("node-b");
                c.access.allowed_paths = {"/user/*"};
                return c;
              }(),
              test_types()};
  // Room for every message told: tellers now serialise on their own
  // threads, faster than the link drains, and what overflows the transport's
  // queue is dead-lettered at once (node_test: "a sender faster than its
  // link..."), which is a gap here, where only the shutdown may cut a stream.
  node node_a{sys_a,
              [] {
                auto c = node_config_for("node-a");
                c.transport.max_queued_frames = 1u << 20;
                return c;
              }(),
              types_for_a()};
  remote_system to_b = node_a.connect("127.0.0.1", node_b.port());
};

/// After A shut down with `told` messages sent into its proxies: each one
/// was handled on B, dead-lettered at A with a reason, or in a write the
/// shutdown cut short (fate unknown). Delivery is at most once, so one more
/// bucket stays possible: written to the socket, then lost with it (A's
/// close can reset the connection while B has not read it all); those are
/// bounded by what the two socket buffers hold.
void check_accounting(racing_nodes& t, std::uint64_t told) {
  // The final figures stay readable after shutdown, and add up.
  auto s = t.node_a.stats().transport;
  CHECK(balanced(s));
  CHECK(s.frames_queued > 0);
  auto accounted = [&] {
    std::uint64_t handled = 0;
    t.seen.with_lock([&] { handled = t.seen.numbered_count; });
    return handled + t.dead_at_a.count() + s.frames_fate_unknown;
  };
  // Until all are in, or the count has not moved for a second.
  std::uint64_t last = accounted();
  for (int still = 0; last < told && still < 20; ++still) {
    std::this_thread::sleep_for(50ms);
    std::uint64_t now = accounted();
    if (now != last) still = 0;
    last = now;
  }
  std::this_thread::sleep_for(50ms);  // nothing counted twice arrives late
  std::uint64_t handled = 0;
  t.seen.with_lock([&] { handled = t.seen.numbered_count; });
  INFO("told " << told << " handled " << handled << " dead " << t.dead_at_a.count() << "; A: "
               << describe(s) << "; received by B " << t.node_b.stats().transport.frames_received);
  // Nothing handled twice, nor both handled and dead-lettered. A frame in a
  // write the shutdown cut short may still have reached B (its fate is
  // unknown, not lost), so handled + dead + fate unknown can exceed `told`.
  std::uint64_t dead = t.dead_at_a.count();
  REQUIRE(handled + dead <= told);
  CHECK(handled <= s.frames_sent + s.frames_fate_unknown);
  volley::remote::frame f;
  f.kind = volley::remote::frame_kind::message;
  f.target_path = "/user/collector0";
  f.type_marker = 1;
  std::byte payload[sizeof(numbered)]{};
  f.payload = payload;
  std::size_t buffers = tcp_buffer_max("tcp_wmem") + tcp_buffer_max("tcp_rmem") + 64 * 1024;
  // Lost: in a write cut short (fate unknown), or written and then thrown
  // away with the socket; either way no more than the socket buffers held.
  std::uint64_t lost = told - handled - dead;
  CHECK(lost * volley::remote::encoded_size(f) <= buffers);
  CHECK(s.frames_fate_unknown * volley::remote::encoded_size(f) <= buffers);
  CHECK(t.dead_at_a.odd_reasons() == 0);
  // What B handled of each teller is a prefix of what it told.
  t.seen.with_lock([&] { CHECK_FALSE(t.seen.out_of_order); });
}

}  // namespace

TEST_CASE("every tell racing a node's shutdown is handled by the peer or dead-lettered",
          "[remote][node][stress]") {
  constexpr std::uint64_t per_teller = 20'000;
  constexpr std::uint64_t shut_after = 2'000;  // handled on B: the stream is flowing
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    racing_nodes t;
    REQUIRE(t.to_b.wait_up(patience));
    std::vector<volley::any_ref> proxies;
    for (int i = 0; i < tellers; ++i)
      proxies.push_back(t.to_b.select("/user/collector" + std::to_string(i)));

    std::vector<std::thread> threads;
    for (int i = 0; i < tellers; ++i) {
      threads.emplace_back([&, i] {
        for (std::uint64_t n = 0; n < per_teller; ++n)
          proxies[static_cast<std::size_t>(i)].tell(numbered{static_cast<std::uint32_t>(i), n});
      });
    }
    // Selects racing the shutdown too (each sends a watch frame): each works
    // or throws logic_error, and never touches a stopped transport.
    std::thread selector([&] {
      for (int k = 0; k < 2000; ++k) {
        try {
          t.to_b.select("/user/collector" + std::to_string(k % tellers));
        } catch (const std::logic_error&) {
        }
      }
    });
    REQUIRE(poll_until([&] {
      std::uint64_t handled = 0;
      t.seen.with_lock([&] { handled = t.seen.numbered_count; });
      return handled >= shut_after;
    }));
    t.node_a.shutdown();
    for (auto& th : threads) th.join();
    selector.join();

    check_accounting(t, tellers * per_teller);
  }
}

TEST_CASE("a node shut down while other threads keep sending leaves no send behind",
          "[remote][node][stress]") {
  // Many rounds of a short race: the shutdown lands at a different point of
  // the senders' claims each time. A frame pushed after the transport's last
  // drain shows as an identity that does not add up (frames_queued counted
  // it, nothing else did): without wait_for_claims() in node_core::shutdown
  // this test and the one above failed in 2 of 5 ASan runs.
  for (int round = 0; round < 10; ++round) {
    CAPTURE(round);
    racing_nodes t;
    REQUIRE(t.to_b.wait_up(patience));
    auto proxy = t.to_b.select("/user/collector0");
    std::atomic<std::uint64_t> told{0};
    std::atomic<bool> stop{false};
    std::thread teller([&] {
      for (std::uint64_t n = 0; !stop.load(); ++n) {
        proxy.tell(numbered{0, n});
        told.fetch_add(1);
      }
    });
    REQUIRE(poll_until([&] { return told.load() >= 500; }));
    t.node_a.shutdown();
    stop.store(true);
    teller.join();
    check_accounting(t, told.load());
  }
}
