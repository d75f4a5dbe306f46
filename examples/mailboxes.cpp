// mailboxes — the order in which an actor takes its waiting messages.
//
// By default an actor handles messages in the order they arrived. At spawn
// it may choose another order (props::mailbox):
//   * priority_mailbox(fn): fn gives each message a number, lower first;
//     equal numbers keep their arrival order;
//   * control_aware_mailbox(): message types marked as control (derived from
//     volley::control_message) go before all others.
// Senders are not slowed down: the actor sorts what has arrived each time it
// picks its next message. Here each actor queues a burst to itself while it
// is busy with `fill`, so the whole burst is waiting when it gets to it.
//
// Prints:
//   priority: urgent report 3, report 1, report 4, log 2, log 5
//   control-aware: pause, resume, work 1, work 2, work 3
#include <cstdio>
#include <future>
#include <string>

#include <volley/volley.hpp>

struct fill {};
struct report {
  int n;
  bool urgent;
};
struct log_line {
  int n;
};
struct done {};

/// Urgent reports first, then reports, then log lines, then the rest.
int by_importance(const volley::message_view& m) {
  if (const report* r = m.get_if<report>()) return r->urgent ? 0 : 1;
  if (m.is<log_line>()) return 2;
  return 3;
}

class reporter {
 public:
  explicit reporter(std::promise<std::string>* out) : out_(out) {}
  void on(const fill&, volley::context& ctx) {
    auto self = ctx.self_as<reporter>();
    self.tell(log_line{2});  // all five wait until this handler returns
    self.tell(report{1, false});
    self.tell(report{3, true});
    self.tell(done{});
    self.tell(report{4, false});
    self.tell(log_line{5});
  }
  void on(const report& r) {
    note((r.urgent ? "urgent report " : "report ") + std::to_string(r.n));
  }
  void on(const log_line& l) { note("log " + std::to_string(l.n)); }
  void on(const done&) { out_->set_value(seen_); }

 private:
  void note(const std::string& s) { seen_ += (seen_.empty() ? "" : ", ") + s; }
  std::promise<std::string>* out_;
  std::string seen_;
};

struct pause_work : volley::control_message {};
struct resume_work : volley::control_message {};
struct work {
  int n;
};

class machine {
 public:
  explicit machine(std::promise<std::string>* out) : out_(out) {}
  void on(const fill&, volley::context& ctx) {
    auto self = ctx.self_as<machine>();
    self.tell(work{1});
    self.tell(pause_work{});
    self.tell(work{2});
    self.tell(resume_work{});
    self.tell(work{3});
    self.tell(done{});
  }
  void on(const pause_work&) { note("pause"); }
  void on(const resume_work&) { note("resume"); }
  void on(const work& w) { note("work " + std::to_string(w.n)); }
  void on(const done&) { out_->set_value(seen_); }

 private:
  void note(const std::string& s) { seen_ += (seen_.empty() ? "" : ", ") + s; }
  std::promise<std::string>* out_;
  std::string seen_;
};

int main() {
  volley::system sys;

  std::promise<std::string> by_priority;
  auto r = sys.spawn<reporter>(volley::props{.mailbox = volley::priority_mailbox(&by_importance)},
                               &by_priority);
  r.tell(fill{});
  std::printf("priority: %s\n", by_priority.get_future().get().c_str());

  std::promise<std::string> control_first;
  auto m =
      sys.spawn<machine>(volley::props{.mailbox = volley::control_aware_mailbox()}, &control_first);
  m.tell(fill{});
  std::printf("control-aware: %s\n", control_first.get_future().get().c_str());
}
