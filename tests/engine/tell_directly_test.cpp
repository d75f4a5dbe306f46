// cell_base::tell_directly: a tell through an any_ref, of a type the actor
// has no handler for, is offered to the cell's direct teller
// (deliver_directly's third argument) as the caller's own object, before any
// envelope is made: a remote actor's proxy encodes its frame from it. A type
// with a handler, a teller that says no, and a stopped actor take the
// ordinary path; from many threads at once, with a stop racing them, every
// tell is taken exactly once or dead-lettered (ASan, TSan).
#include "engine_test_support.hpp"

#include <volley/volley.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

using volley::test::scaled;
using volley::test::wait_until;

namespace {

struct probe {
  std::uint64_t n;
};
struct handled_here {
  int n;
};

/// What the teller and the envelope paths saw.
struct seen {
  std::atomic<bool> say_no{false};
  std::atomic<std::uint64_t> told{0};       ///< taken by the teller
  std::atomic<std::uint64_t> told_sum{0};   ///< sum of the probes' n
  std::atomic<std::uint64_t> enveloped{0};  ///< reached on_direct (an envelope)
  std::atomic<std::uint64_t> mailboxed{0};  ///< reached on_any (the mailbox)
  std::atomic<const void*> last_payload{nullptr};
  std::atomic<volley::detail::cell_base*> last_sender{nullptr};
  std::atomic<bool> wrong_type{false};
};

bool on_tell(volley::detail::cell_base*, const volley::detail::message_info* info,
             const void* payload, volley::detail::cell_base* sender, void* state) noexcept {
  auto& s = *static_cast<seen*>(state);
  if (s.say_no.load()) return false;
  if (info->id != volley::type_id<probe>()) s.wrong_type.store(true);
  s.last_payload.store(payload);
  s.last_sender.store(sender);
  s.told_sum.fetch_add(static_cast<const probe*>(payload)->n);
  s.told.fetch_add(1);
  return true;
}

bool on_direct(volley::detail::cell_base*, volley::detail::envelope* e, void* state) noexcept {
  static_cast<seen*>(state)->enveloped.fetch_add(1);
  e->info->drop(e, volley::dead_letter_reason::recipient_stopped);  // handled: only destroys
  return true;
}

/// Declares no handler for probe: such tells reach the teller (or, in an
/// envelope, on_direct; once stopping, on_any through the mailbox).
struct teller_actor {
  using accepts = volley::accepts<handled_here>;
  explicit teller_actor(std::shared_ptr<seen> s) : s_(std::move(s)) {
    volley::detail::constructing_cell()->deliver_directly(&on_direct, s_, &on_tell);
  }
  static void on_any(volley::detail::envelope* e, volley::detail::cell_base* c, volley::context&) {
    volley::detail::actor_of<teller_actor>(c).s_->mailboxed.fetch_add(1);
    e->info->drop(e, volley::dead_letter_reason::recipient_stopped);
  }
  void on(handled_here) {}  // never runs: the direct taker has every envelope
  std::shared_ptr<seen> s_;
};

struct tell_it {
  volley::any_ref target;
  std::uint64_t n;
};
/// Tells probes with itself as the sender.
struct sender_actor {
  void on(tell_it t, volley::context& ctx) { t.target.tell(probe{t.n}, ctx); }
};

/// A system with a teller_actor, its typed and untyped refs.
struct teller {
  volley::system sys{volley::test::two_workers()};
  std::shared_ptr<seen> s = std::make_shared<seen>();
  volley::actor_ref<teller_actor> typed = sys.spawn<teller_actor>(s);
  volley::any_ref target = typed.untyped();
};

}  // namespace

TEST_CASE("a tell to a direct teller hands it the caller's own object, with the sender",
          "[engine][tell_directly]") {
  volley::system sys{volley::test::two_workers()};
  auto s = std::make_shared<seen>();
  volley::any_ref target = sys.spawn<teller_actor>(s).untyped();

  probe mine{41};
  target.tell(mine);  // this thread: no envelope, so the teller sees `mine` itself
  CHECK(s->told.load() == 1);
  CHECK(s->last_payload.load() == &mine);
  CHECK(s->last_sender.load() == nullptr);
  const probe constant{1};
  target.tell(constant);
  CHECK(s->last_payload.load() == &constant);
  target.tell(probe{100});
  CHECK(s->told.load() == 3);
  CHECK(s->told_sum.load() == 142);

  auto from = sys.spawn<sender_actor>();
  from.tell(tell_it{target, 8});
  REQUIRE(wait_until([&] { return s->told.load() == 4; }));
  CHECK(s->last_sender.load() == from.cell());
  CHECK(s->told_sum.load() == 150);
  CHECK_FALSE(s->wrong_type.load());
  CHECK(s->enveloped.load() == 0);
  CHECK(s->mailboxed.load() == 0);
  CHECK(sys.dead_letters().count() == 0);
}

TEST_CASE("a handled type, a teller that says no, and a stopped actor take the ordinary path",
          "[engine][tell_directly]") {
  teller t;
  auto& s = t.s;
  auto& target = t.target;

  // A type with a handler takes an envelope, as for any actor (this
  // actor's direct taker gets every user message that comes in one).
  target.tell(handled_here{1});
  CHECK(s->told.load() == 0);
  CHECK(s->enveloped.load() == 1);

  s->say_no.store(true);
  target.tell(probe{5});  // an envelope after all: the direct taker has it
  CHECK(s->told.load() == 0);
  CHECK(s->enveloped.load() == 2);
  s->say_no.store(false);

  t.typed.stop();
  REQUIRE(wait_until([&] { return t.typed.is_stopped(); }));
  target.tell(probe{6});  // dead: a dead letter, never the teller
  CHECK(s->told.load() == 0);
  REQUIRE(wait_until([&] { return t.sys.dead_letters().count() == 1; }));
}

TEST_CASE("tells from many threads racing a stop are each taken once or dead-lettered",
          "[engine][tell_directly]") {
  teller t;
  auto& s = t.s;
  auto& target = t.target;
  constexpr int threads = 4;
  const std::uint64_t per_thread = scaled(50'000);
  std::atomic<int> ready{0};
  std::vector<std::thread> senders;
  for (int i = 0; i < threads; ++i) {
    senders.emplace_back([&] {
      ready.fetch_add(1);
      for (std::uint64_t n = 0; n < per_thread; ++n) target.tell(probe{1});
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  t.typed.stop();
  for (auto& t : senders) t.join();
  REQUIRE(wait_until([&] { return t.typed.is_stopped(); }));
  const std::uint64_t sent = threads * per_thread;
  // Taken directly, by an envelope (a tell that saw the stop, then raced
  // into the mailbox before the cell was dead: on_any or on_direct), or a
  // dead letter: each exactly once.
  REQUIRE(wait_until([&] {
    return s->told.load() + s->enveloped.load() + s->mailboxed.load() +
               t.sys.dead_letters().count() ==
           sent;
  }));
  CHECK(s->told_sum.load() == s->told.load());
  CHECK(s->told.load() + s->enveloped.load() + s->mailboxed.load() + t.sys.dead_letters().count() ==
        sent);
}
