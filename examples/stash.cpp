// stash — keeping messages for later: a door that is opened after knocks.
//
// An actor that cannot handle a message *yet* can stash it: `ctx.stash()`
// keeps the message being handled aside, and `ctx.unstash_all()` puts every
// stashed message back in front of the mailbox, oldest first, ahead of
// anything still queued. Here a closed door keeps the knocks; once opened,
// it lets everyone in, in the order they knocked.
//
// Prints:
//   door: closed, alice will have to wait
//   door: closed, bob will have to wait
//   door: opening, 2 waiting
//   door: come in, alice
//   door: come in, bob
//   door: come in, carol
//   main: 3 guests came in
#include <cstdio>
#include <string>

#include <volley/volley.hpp>

struct knock {
  std::string who;
};
struct open_door {};
struct count_guests {};

class door {
 public:
  void on(const knock& k, volley::context& ctx) {
    if (!open_) {
      std::printf("door: closed, %s will have to wait\n", k.who.c_str());
      ctx.stash();  // handled again after unstash_all()
      return;
    }
    std::printf("door: come in, %s\n", k.who.c_str());
    ++guests_;
  }

  void on(const open_door&, volley::context& ctx) {
    std::printf("door: opening, %zu waiting\n", ctx.stash_size());
    open_ = true;
    ctx.unstash_all();
  }

  int on(const count_guests&) const { return guests_; }

 private:
  bool open_ = false;
  int guests_ = 0;
};

int main() {
  volley::system sys;
  auto d = sys.spawn<door>();

  d.tell(knock{"alice"});
  d.tell(knock{"bob"});
  d.tell(open_door{});
  d.tell(knock{"carol"});  // queued behind the opening: after alice and bob

  // The ask is queued last; the unstashed knocks go in front of it.
  std::printf("main: %d guests came in\n", d.ask(count_guests{}).get().value());
}
