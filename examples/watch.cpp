// watch — learning that another actor has stopped.
//
// `ctx.watch(ref)` asks the system to send this actor one volley::terminated
// when the watched actor stops, for whatever reason (it stopped itself, was
// stopped or killed, its parent stopped, the system shut down). It comes
// after the watched actor's post_stop, and also when the actor had already
// stopped before the watch was made.
//
// Prints:
//   watcher: watching /user/worker
//   worker: job done, stopping
//   worker: stopped
//   watcher: /user/worker has stopped (stopped)
//   main: the watcher saw the worker go
#include <cstdio>
#include <future>
#include <utility>

#include <volley/volley.hpp>

struct do_job {};

class worker {
 public:
  void on(const do_job&, volley::context& ctx) {
    std::printf("worker: job done, stopping\n");
    ctx.stop();  // once this handler returns
  }
  void post_stop() { std::printf("worker: stopped\n"); }
};

class watcher {
 public:
  watcher(volley::actor_ref<worker> w, std::promise<void> done)
      : worker_(std::move(w)), done_(std::move(done)) {}

  void pre_start(volley::context& ctx) {
    ctx.watch(worker_);
    std::printf("watcher: watching %s\n", worker_.path().c_str());
    worker_.tell(do_job{});  // sent after the watch: the print order is fixed
  }

  void on(const volley::terminated& t) {
    std::printf("watcher: %s has stopped (%s)\n", t.actor.path().c_str(), to_string(t.reason));
    done_.set_value();
  }

 private:
  volley::actor_ref<worker> worker_;
  std::promise<void> done_;
};

int main() {
  volley::system sys;

  auto w = sys.spawn<worker>(volley::props{.name = "worker", .dispatcher = {}});
  std::promise<void> done;
  auto watched = done.get_future();
  sys.spawn<watcher>(w, std::move(done));

  watched.wait();
  std::printf("main: the watcher saw the worker go\n");
}
