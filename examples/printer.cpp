// printer — the smallest complete volley program.
//
// An actor is a plain class: its state is ordinary members, and it reacts to
// messages through `on(const M&)` handlers. The system runs each actor on a
// worker thread, one message at a time, so the handlers never need a lock.
// Here a printer prints the texts it is sent and counts their characters;
// its pre_start and post_stop hooks show when it starts and stops.
//
// Prints:
//   printer: started
//   Hello world!
//   Messages to one actor are handled in the order they were sent.
//   main: the printer printed 74 characters
//   printer: stopped
#include <cstddef>
#include <cstdio>
#include <string>

#include <volley/volley.hpp>

// Messages are plain structs. The receiver owns its copy: no sharing.
struct print {
  std::string text;
};
struct get_printed {};  // a question: how many characters so far?

class printer {
 public:
  // Runs before the first message is handled.
  void pre_start() { std::printf("printer: started\n"); }

  // Runs once the actor has stopped: nothing is handled after it.
  void post_stop() { std::printf("printer: stopped\n"); }

  void on(const print& p) {
    std::printf("%s\n", p.text.c_str());
    printed_ += p.text.size();
  }

  // A handler's return value is the answer to an ask (see main).
  std::size_t on(const get_printed&) const { return printed_; }

 private:
  std::size_t printed_ = 0;
};

int main() {
  volley::system sys;  // one worker per core

  // spawn constructs the actor inside the system and returns a typed ref:
  // tell() only compiles for message types the printer has a handler for.
  auto p = sys.spawn<printer>(volley::props{.name = "printer", .dispatcher = {}});

  // tell never waits: it puts the message in the printer's mailbox.
  p.tell(print{"Hello world!"});
  p.tell(print{"Messages to one actor are handled in the order they were sent."});

  // ask waits for the answer (from main only: a blocking wait inside an
  // actor is refused). It is queued behind the two prints, so they are done.
  std::size_t printed = p.ask(get_printed{}).get().value();
  std::printf("main: the printer printed %zu characters\n", printed);

  // A poison pill stops the actor once the messages before it are handled.
  p.tell(volley::poison_pill{});

  // Shutdown stops whatever is still running (each post_stop runs once) and
  // joins the workers. The system's destructor would do it too.
  sys.shutdown();
}
