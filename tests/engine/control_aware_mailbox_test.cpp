// Tests of control-aware mailboxes (mailbox.hpp, props::mailbox =
// control_aware_mailbox()): messages of control types (a control_message
// base, or `static constexpr bool control = true`) are handled before the
// ordinary ones waiting, FIFO within each class; the default mailbox ignores
// the mark; and under many concurrent senders every message is handled once,
// in sending order within its class.
#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

#include <volley/engine/test_probe.hpp>

#include "engine_test_support.hpp"

using volley::test::gate;
using volley::test::patience;
using volley::test::wait_until;

namespace {

struct hold {};
struct pause : volley::control_message {
  int n;
};
struct resume {
  static constexpr bool control = true;
  int n;
};
struct work {
  int n;
};
struct not_control {
  static constexpr bool control = false;
};
struct count_query {};

static_assert(volley::is_control_message_v<pause>);
static_assert(volley::is_control_message_v<resume>);
static_assert(!volley::is_control_message_v<work>);
static_assert(!volley::is_control_message_v<not_control>);

struct recorder {
  recorder(gate* g, std::vector<std::string>* seen) : g_(g), seen_(seen) {}
  void on(const hold&) { g_->arrive_and_wait(); }
  void on(const pause& m) { seen_->push_back("p" + std::to_string(m.n)); }
  void on(const resume& m) { seen_->push_back("r" + std::to_string(m.n)); }
  void on(const work& m) { seen_->push_back("w" + std::to_string(m.n)); }
  std::size_t on(const count_query&) const { return seen_->size(); }
  gate* g_;
  std::vector<std::string>* seen_;
};

std::size_t handled(const volley::actor_ref<recorder>& r) {
  auto n = r.ask(count_query{}).get(patience);
  return n ? n.value() : 0;
}

std::vector<std::string> run_mixed(volley::mailbox m) {
  gate g;
  std::vector<std::string> seen;
  {
    volley::system sys(volley::test::two_workers());
    volley::test::open_on_exit opener{g};
    volley::props p;
    p.mailbox = m;
    auto r = sys.spawn<recorder>(p, &g, &seen);
    r.tell(hold{});
    REQUIRE(g.wait_arrived());
    r.tell(work{0});
    r.tell(pause{{}, 1});
    r.tell(work{2});
    r.tell(resume{3});
    r.tell(work{4});
    r.tell(pause{{}, 5});
    g.open();
    REQUIRE(wait_until([&] { return handled(r) == 6; }));
  }
  return seen;
}

}  // namespace

TEST_CASE(
    "a control-aware mailbox hands control messages over before waiting ordinary ones, FIFO "
    "within each",
    "[control_aware_mailbox][concurrency]") {
  CHECK(run_mixed(volley::control_aware_mailbox()) ==
        std::vector<std::string>{"p1", "r3", "p5", "w0", "w2", "w4"});
}

TEST_CASE("the default mailbox keeps control messages in arrival order",
          "[control_aware_mailbox][concurrency]") {
  CHECK(run_mixed(volley::mailbox{}) ==
        std::vector<std::string>{"w0", "p1", "w2", "r3", "w4", "p5"});
}

TEST_CASE(
    "under many senders a control-aware mailbox handles every message once, in sending order "
    "within its class",
    "[control_aware_mailbox][concurrency][stress]") {
  constexpr int senders = 4;
  const int per_sender = static_cast<int>(volley::test::scaled(200'000));
  struct urgent : volley::control_message {
    int sender;
    int seq;
  };
  struct normal {
    int sender;
    int seq;
  };
  struct checker {
    void check(int sender, int seq, bool control) {
      int& prev = last_[static_cast<std::size_t>(sender * 2 + (control ? 1 : 0))];
      if (seq <= prev) ++out_of_order_;
      prev = seq;
      ++handled_;
    }
    void on(const urgent& m) { check(m.sender, m.seq, true); }
    void on(const normal& m) { check(m.sender, m.seq, false); }
    std::pair<long, long> on(const count_query&) const { return {handled_, out_of_order_}; }
    std::vector<int> last_ = std::vector<int>(senders * 2, -1);
    long handled_ = 0;
    long out_of_order_ = 0;
  };
  volley::system sys(volley::test::two_workers());
  volley::props p;
  p.mailbox = volley::control_aware_mailbox();
  auto c = sys.spawn<checker>(p);
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s) {
    threads.emplace_back([&, s] {
      for (int i = 0; i < per_sender; ++i) {
        if (i % 7 == 0) {
          c.tell(urgent{{}, s, i});
        } else {
          c.tell(normal{s, i});
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::pair<long, long> counts{0, 0};
  REQUIRE(wait_until([&] {
    auto n = c.ask(count_query{}).get(patience);
    if (n) counts = n.value();
    return counts.first == static_cast<long>(senders) * per_sender;
  }));
  CHECK(counts.second == 0);
  CHECK(sys.dead_letters().count() == 0);
}
