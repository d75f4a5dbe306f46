// ticker — timers: one message later, or one every period until cancelled.
//
// An actor that derives from volley::actor<Self> gets timers(): keyed timers
// that send the actor a message. A single timer fires once; a periodic one
// fires every period until it is cancelled. After cancel(key) returns, no
// message of that timer is handled any more, not even one already queued,
// and every timer of an actor is cancelled when it stops, so a timer never
// outlives its actor.
//
// Timers fire in deadline order, and one actor handles its messages in
// order, so what this prints does not depend on how fast the machine is.
//
// Prints:
//   ticker: started (single tick in 100 ms, then one every 200 ms)
//   ticker: single tick
//   ticker: periodic tick 1
//   ticker: periodic tick 2
//   ticker: periodic tick 3, cancelling
//   main: the ticker stopped after 3 ticks
#include <chrono>
#include <cstdio>
#include <future>

#include <volley/volley.hpp>

using namespace std::chrono_literals;

struct single_tick {};
struct periodic_tick {};

class ticker : public volley::actor<ticker> {  // CRTP: the base knows our type
 public:
  explicit ticker(std::promise<int> done) : done_(std::move(done)) {}

  void pre_start() {
    // Start both in the hook, so they run from the moment the actor does.
    timers().start_single("single", 100ms, single_tick{});
    // A periodic timer takes a factory: each firing needs a message of its own.
    timers().start_periodic("periodic", 200ms, [] { return periodic_tick{}; });
    std::printf("ticker: started (single tick in 100 ms, then one every 200 ms)\n");
  }

  void on(const single_tick&) { std::printf("ticker: single tick\n"); }

  void on(const periodic_tick&, volley::context& ctx) {
    ++ticks_;
    if (ticks_ < 3) {
      std::printf("ticker: periodic tick %d\n", ticks_);
      return;
    }
    std::printf("ticker: periodic tick %d, cancelling\n", ticks_);
    timers().cancel("periodic");
    done_.set_value(ticks_);
    ctx.stop();  // stopping would cancel the timer too
  }

 private:
  int ticks_ = 0;
  std::promise<int> done_;  // tells main (not an actor) that we are done
};

int main() {
  volley::system sys;

  std::promise<int> done;
  auto ticks = done.get_future();
  sys.spawn<ticker>(std::move(done));

  std::printf("main: the ticker stopped after %d ticks\n", ticks.get());
}
