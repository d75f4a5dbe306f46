// Tests of dead letters: exact counts per reason, what a report carries,
// subscriptions (RAII), the rate-limited log, and sends to actors of a
// system that has shut down or is gone.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::dead_letter_reason;
using volley::test::wait_until;

namespace {

struct note {
  int n;
};
struct forward {
  int n;
};
struct stray {};

struct sink {
  using accepts = volley::accepts<note>;
  void on(const note&) {}
};

/// Sends a note to `to`, naming itself as the sender.
struct relay {
  explicit relay(volley::actor_ref<sink> to) : to_(std::move(to)) {}
  void on(const forward& f, volley::context& ctx) { to_.tell(note{f.n}, ctx); }
  volley::actor_ref<sink> to_;
};

volley::actor_ref<sink> stopped_sink(volley::system& sys, const volley::props& p) {
  auto s = sys.spawn<sink>(p);
  s.stop();
  REQUIRE(wait_until([&] { return s.is_stopped(); }));
  return s;
}

/// Sum of N over the log's "volley: N more dead letters" summary lines.
unsigned long long summarised(const std::string& log) {
  unsigned long long sum = 0;
  for (const auto& line : volley::test::lines_with(log, " more dead letters")) {
    auto at = line.find("volley: ");
    REQUIRE(at != std::string::npos);
    sum += std::strtoull(line.c_str() + at + 8, nullptr, 10);
  }
  return sum;
}

/// Tells `count` notes to a stopped actor on a system made with `cfg`
/// (with a dead-letter subscriber if `subscribed`), checks that each was
/// counted and, with the subscriber, published, and returns what the
/// system wrote on stderr until its shutdown had flushed the last summary.
std::string dead_letter_log(const volley::config& cfg, bool subscribed, int count) {
  volley::system sys(cfg);
  std::atomic<int> reported{0};
  volley::dead_letters::subscription sub;
  if (subscribed) {
    sub = sys.dead_letters().subscribe([&](const volley::dead_letter&) { ++reported; });
  }
  auto gone = stopped_sink(sys, volley::props{});
  volley::test::stderr_capture err;
  for (int i = 0; i < count; ++i) gone.tell(note{i});
  CHECK(sys.dead_letters().count() == static_cast<std::uint64_t>(count));
  CHECK(reported == (subscribed ? count : 0));
  sys.shutdown();  // flushes the last summary
  return err.finish();
}

}  // namespace

TEST_CASE("dead letters are counted exactly, per reason", "[dead_letters]") {
  volley::system sys(volley::test::two_workers());
  const volley::props p{.name = "gone", .dispatcher = ""};
  auto gone = stopped_sink(sys, p);
  auto alive = sys.spawn<sink>();
  for (int i = 0; i < 3; ++i) gone.tell(note{i});
  volley::any_ref u = alive;
  u.tell(stray{});
  u.tell(stray{});
  CHECK(sys.dead_letters().count(dead_letter_reason::recipient_stopped) == 3);
  CHECK(sys.dead_letters().count(dead_letter_reason::unhandled) == 2);
  CHECK(sys.dead_letters().count(dead_letter_reason::mailbox_full) == 0);
  CHECK(sys.dead_letters().count() == 5);
}

TEST_CASE("a dead letter report names the sender, the recipient, the type and the reason",
          "[dead_letters]") {
  volley::system sys(volley::test::two_workers());
  volley::test::dead_letter_log log(sys);
  const volley::props ps{.name = "gone", .dispatcher = ""};
  const volley::props pr{.name = "relay", .dispatcher = ""};
  auto gone = stopped_sink(sys, ps);
  auto r = sys.spawn<relay>(pr, gone);
  r.tell(forward{1});
  gone.tell(note{2});
  REQUIRE(wait_until([&] { return log.size() == 2; }));
  auto seen = log.seen();
  // The relay's send and ours race; find each by its sender.
  if (seen[0].sender.empty()) std::swap(seen[0], seen[1]);
  CHECK(seen[0].sender == "/user/relay");
  CHECK(seen[1].sender.empty());
  for (const auto& d : seen) {
    CHECK(d.recipient == "/user/gone");
    CHECK(d.type == std::string(volley::type_name<note>()));
    CHECK(d.reason == dead_letter_reason::recipient_stopped);
  }
}

TEST_CASE("a subscription receives dead letters until it is destroyed or cancelled",
          "[dead_letters]") {
  volley::system sys(volley::test::two_workers());
  const volley::props p{.name = "gone", .dispatcher = ""};
  auto gone = stopped_sink(sys, p);
  std::atomic<int> a{0}, b{0};
  {
    auto sub_a = sys.dead_letters().subscribe([&](const volley::dead_letter&) { ++a; });
    auto sub_b = sys.dead_letters().subscribe([&](const volley::dead_letter&) { ++b; });
    gone.tell(note{1});
    CHECK(a == 1);  // delivered on the thread that produced the dead letter
    CHECK(b == 1);
    sub_b.cancel();
    sub_b.cancel();  // twice is harmless
    gone.tell(note{2});
    CHECK(a == 2);
    CHECK(b == 1);
    auto moved = std::move(sub_a);  // a moved subscription stays subscribed
    gone.tell(note{3});
    CHECK(a == 3);
  }
  gone.tell(note{4});
  CHECK(a == 3);
  CHECK(sys.dead_letters().count() == 4);
}

TEST_CASE("a subscriber that throws is reported and does not stop the others", "[dead_letters]") {
  volley::system sys(volley::test::two_workers());
  auto gone = stopped_sink(sys, volley::props{});
  std::atomic<int> seen{0};
  auto bad = sys.dead_letters().subscribe([](const volley::dead_letter&) { throw 1; });
  auto good = sys.dead_letters().subscribe([&](const volley::dead_letter&) { ++seen; });
  volley::test::stderr_capture err;
  gone.tell(note{1});
  CHECK(err.finish().find("subscriber threw") != std::string::npos);
  CHECK(seen == 1);
  CHECK(sys.dead_letters().count() == 1);
}

TEST_CASE("the dead letter log prints the first N one by one, then only summaries",
          "[dead_letters]") {
  const bool subscribed = GENERATE(false, true);  // the two paths: reports built or only counted
  const auto interval = GENERATE(std::chrono::milliseconds(1h), std::chrono::milliseconds(0));
  INFO("subscribed: " << subscribed << ", summary interval: " << interval.count() << " ms");
  volley::config cfg = volley::test::two_workers();
  cfg.dead_letter_log_first = 3;
  cfg.dead_letter_summary_interval = interval;
  const std::string log = dead_letter_log(cfg, subscribed, 1000);
  auto individual = volley::test::lines_with(log, "dead letter #");
  REQUIRE(individual.size() == 3);
  CHECK(individual[0].find("dead letter #1:") != std::string::npos);
  CHECK(individual[0].find("/user/$") != std::string::npos);
  CHECK(individual[0].find(std::string(volley::type_name<note>())) != std::string::npos);
  CHECK(individual[0].find("recipient stopped") != std::string::npos);
  CHECK(individual[2].find("summarised") != std::string::npos);  // says what happens next
  CHECK(summarised(log) == 997);  // every one accounted for, none twice
  if (interval == 1h) {
    auto summaries = volley::test::lines_with(log, " more dead letters");
    REQUIRE(summaries.size() == 1);
    CHECK(summaries[0].find("997 more dead letters (1000 in all)") != std::string::npos);
  }
}

TEST_CASE("dead_letter_log_first = 0 turns the log off, shutdown summary included",
          "[dead_letters]") {
  const bool subscribed = GENERATE(false, true);
  const auto interval = GENERATE(std::chrono::milliseconds(1h), std::chrono::milliseconds(0));
  INFO("subscribed: " << subscribed << ", summary interval: " << interval.count() << " ms");
  volley::config cfg = volley::test::two_workers();
  cfg.dead_letter_log_first = 0;
  cfg.dead_letter_summary_interval = interval;
  // Still counted and published (checked inside)...
  const std::string log = dead_letter_log(cfg, subscribed, 100);
  CHECK(volley::test::lines_with(log, "dead letter").empty());  // ...but never logged
}

TEST_CASE("dead letters from many threads at once are all counted", "[dead_letters][concurrency]") {
  volley::system sys(volley::test::two_workers());
  auto gone = stopped_sink(sys, volley::props{});
  std::atomic<std::uint64_t> reported{0};
  auto sub = sys.dead_letters().subscribe([&](const volley::dead_letter&) { ++reported; });
  const int threads = 4;
  const std::uint64_t per_thread = volley::test::scaled(50000);
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t) {
    senders.emplace_back([&] {
      for (std::uint64_t i = 0; i < per_thread; ++i) gone.tell(note{static_cast<int>(i)});
    });
  }
  for (auto& t : senders) t.join();
  CHECK(sys.dead_letters().count() == threads * per_thread);
  CHECK(sys.dead_letters().count(dead_letter_reason::recipient_stopped) == threads * per_thread);
  CHECK(reported == threads * per_thread);
}

TEST_CASE("a tell to an actor after shutdown() is a dead letter, not a crash", "[dead_letters]") {
  volley::system sys(volley::test::two_workers());
  auto s = sys.spawn<sink>();
  volley::any_ref u = s;
  sys.shutdown();
  CHECK(s.is_stopped());
  auto before = sys.dead_letters().count(dead_letter_reason::system_shutdown);
  s.tell(note{1});
  u.tell(note{2});
  CHECK(sys.dead_letters().count(dead_letter_reason::system_shutdown) == before + 2);
  auto r = s.ask(note{3}).get(volley::test::patience);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == volley::errc::recipient_stopped);
}

TEST_CASE("refs and subscriptions may outlive their system", "[dead_letters]") {
  volley::actor_ref<sink> s;
  volley::dead_letters::subscription sub;
  std::atomic<int> seen{0};
  {
    volley::system sys(volley::test::two_workers());
    s = sys.spawn<sink>();
    sub = sys.dead_letters().subscribe([&](const volley::dead_letter&) { ++seen; });
  }
  CHECK(s.is_stopped());
  s.tell(note{1});  // the system is gone: still a dead letter, not a crash
  s = volley::actor_ref<sink>();
  sub.cancel();  // after the system is gone: a no-op, not a use-after-free
}
