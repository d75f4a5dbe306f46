// Must compile: the usage system.hpp documents, spawn<A>(props{...}, args...)
// with a temporary props. (A props prvalue binds better to the variadic
// spawn(Args&&...) overload, which then passes the props to A's
// constructor; a non-const props lvalue does the same.)
#include <string>

#include <volley/volley.hpp>

struct print {
  std::string text;
};

struct printer {
  explicit printer(std::string prefix) : prefix_(std::move(prefix)) {}
  void on(const print&) {}
  std::string prefix_;
};

struct child_spawner {
  void on(const print&, volley::context& ctx) {
    ctx.spawn<printer>(volley::props{.name = "child", .dispatcher = ""}, "> ");
  }
};

void spawn_them(volley::system& sys) {
  sys.spawn<printer>(volley::props{.name = "printer", .dispatcher = ""}, "> ");
  volley::props p;
  p.name = "other";
  sys.spawn<printer>(p, "> ");
  sys.spawn<child_spawner>(volley::props{.name = "parent", .dispatcher = ""});
}
