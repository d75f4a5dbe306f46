// supervision — what happens when a handler throws.
//
// Actors form a tree: an actor spawned with ctx.spawn is a child of the
// spawning actor. When a handler throws, its actor fails, and the parent
// decides what happens with its supervisor_strategy():
//   * resume:   ignore the failure, keep the state, go on with the next message;
//   * restart:  replace the actor with a fresh instance (the mailbox is kept);
//   * stop:     stop the child;
//   * escalate: fail the parent too, and let its own parent decide.
// one_for_one applies the decision to the failed child only, all_for_one to
// all the parent's children. (Actors that declare no strategy stop a failed
// child; each failure is also logged to stderr with the actor's path.)
//
// Here a manager supervises a counter, and main sends the counter three
// kinds of trouble, one at a time.
//
// Prints:
//   manager: supervising /user/manager/counter
//   main: total 3
//   -- bad input --
//   manager: counter failed (bad input: -1), resume
//   main: total 3
//   -- a glitch --
//   manager: counter failed (glitch), restart
//   counter: restarting after: glitch
//   counter: restarted with a fresh state
//   main: total 0
//   -- a fatal error --
//   manager: counter failed (fatal), stop
//   counter: stopped
//   manager: /user/manager/counter is gone (failed)
#include <chrono>
#include <cstdio>
#include <exception>
#include <future>
#include <stdexcept>
#include <string>
#include <utility>

#include <volley/engine/supervision.hpp>
#include <volley/volley.hpp>

// Failures the strategy tells apart.
struct bad_input : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct glitch : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct add {
  int n;
};
struct get_total {};
struct cause_glitch {};
struct cause_fatal {};

/// what() of a failure, for the messages below.
std::string what_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown";
  }
}

class counter {
 public:
  void on(const add& a) {
    if (a.n < 0) throw bad_input("bad input: " + std::to_string(a.n));
    total_ += a.n;
  }
  int on(const get_total&) const { return total_; }
  void on(const cause_glitch&) { throw glitch("glitch"); }
  void on(const cause_fatal&) { throw std::logic_error("fatal"); }

  // Restart hooks: the old instance says goodbye, the new one hello. (Without
  // them, a restart runs post_stop on the old and pre_start on the new.)
  void pre_restart(const std::exception_ptr& why) {
    std::printf("counter: restarting after: %s\n", what_of(why).c_str());
  }
  void post_restart(const std::exception_ptr&) {
    std::printf("counter: restarted with a fresh state\n");
  }
  void post_stop() { std::printf("counter: stopped\n"); }

 private:
  int total_ = 0;
};

struct get_counter {};

class manager {
 public:
  explicit manager(std::promise<void> counter_gone) : counter_gone_(std::move(counter_gone)) {}

  void pre_start(volley::context& ctx) {
    counter_ = ctx.spawn<counter>(volley::props{.name = "counter", .dispatcher = {}});
    ctx.watch(counter_);  // to hear when it is gone for good
    std::printf("manager: supervising %s\n", counter_.path().c_str());
  }

  // Asked by the system when a child fails (on the manager's side).
  volley::supervisor_strategy supervisor_strategy() const {
    return volley::supervisor_strategy::one_for_one()
        .decide([](const std::exception_ptr& e) {
          volley::directive d = volley::directive::stop;
          try {
            std::rethrow_exception(e);
          } catch (const bad_input&) {
            d = volley::directive::resume;  // a bad message, not a bad state
          } catch (const glitch&) {
            d = volley::directive::restart;  // the state may be corrupt: start afresh
          } catch (...) {
            d = volley::directive::stop;  // anything else: give up on the child
          }
          std::printf("manager: counter failed (%s), %s\n", what_of(e).c_str(), to_string(d));
          return d;
        })
        .at_most(3, std::chrono::seconds(10));  // more restarts than that: stop
  }

  volley::actor_ref<counter> on(const get_counter&) const { return counter_; }

  void on(const volley::terminated& t) {
    std::printf("manager: %s is gone (%s)\n", t.actor.path().c_str(), to_string(t.reason));
    counter_gone_.set_value();
  }

 private:
  volley::actor_ref<counter> counter_;
  std::promise<void> counter_gone_;  // tells main (not an actor) that the story is over
};

int main() {
  volley::system sys;

  std::promise<void> counter_gone;
  auto gone = counter_gone.get_future();
  auto m = sys.spawn<manager>(volley::props{.name = "manager", .dispatcher = {}},
                              std::move(counter_gone));
  auto c = m.ask(get_counter{}).get().value();

  // Each ask below queues behind the trouble before it, so it is answered
  // once the manager has decided and the decision has been carried out.
  c.tell(add{1});
  c.tell(add{2});
  std::printf("main: total %d\n", c.ask(get_total{}).get().value());

  std::printf("-- bad input --\n");
  c.tell(add{-1});
  std::printf("main: total %d\n", c.ask(get_total{}).get().value());

  std::printf("-- a glitch --\n");
  c.tell(cause_glitch{});
  std::printf("main: total %d\n", c.ask(get_total{}).get().value());

  std::printf("-- a fatal error --\n");
  c.tell(cause_fatal{});
  gone.wait();
}
