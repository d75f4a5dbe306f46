// tests/checker/model_scheduler.cpp — fibers, choice recording, DFS replay.
// See model_scheduler.hpp for the method.
#include "model_scheduler.hpp"

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define VOLLEY_CHECKER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VOLLEY_CHECKER_ASAN 1
#endif
#endif

#if VOLLEY_CHECKER_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(__x86_64__)
// Saves the callee-saved registers and the floating-point control words on
// the running stack, stores its stack pointer in *from, and resumes the
// context saved at `to`. No signal mask is saved or restored: glibc's
// swapcontext makes an rt_sigprocmask call at every switch, and ASan's
// interceptor of it clears the shadow of the whole target stack, together
// more than a third of a checker test's time. The fibers never touch the
// signal mask, so there is nothing to keep.
extern "C" void volley_checker_switch(void** from, void* to);
asm(R"(
  .pushsection .text
  .p2align 4
  .type volley_checker_switch, @function
volley_checker_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size volley_checker_switch, .-volley_checker_switch
  .popsection
)");
#endif

namespace volley::checker {

namespace {

// ASan keeps its own idea of the current stack; it must be told about every
// fiber switch or it reports false stack overflows and poisons the wrong
// frames.
void start_switch(void** fake_stack_save, const void* bottom, std::size_t size) noexcept {
#if VOLLEY_CHECKER_ASAN
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
  (void)fake_stack_save, (void)bottom, (void)size;
#endif
}

void finish_switch(void* fake_stack_save, const void** bottom_old, std::size_t* size_old) noexcept {
#if VOLLEY_CHECKER_ASAN
  __sanitizer_finish_switch_fiber(fake_stack_save, bottom_old, size_old);
#else
  (void)fake_stack_save, (void)bottom_old, (void)size_old;
#endif
}

// 256 KiB: the code under test is small, but an ASan Debug frame is large and
// Catch2's checks may run inside a fiber.
constexpr std::size_t stack_size = 256 * 1024;
constexpr std::size_t max_fibers = 8;

// Where a suspended fiber, or the explorer, resumes.
#if defined(__x86_64__)
class machine_context {
 public:
  // A context that starts `entry` (which never returns) on the stack.
  void start(char* stack, std::size_t size, void (*entry)()) {
    auto top = (reinterpret_cast<std::uintptr_t>(stack) + size) & ~std::uintptr_t{15};
    auto* slot = reinterpret_cast<std::uint64_t*>(top);
    *--slot = 0;  // entry's return address: it never returns
    *--slot = reinterpret_cast<std::uint64_t>(entry);
    for (int reg = 0; reg < 6; ++reg) *--slot = 0;  // rbp rbx r12 r13 r14 r15
    std::uint32_t mxcsr = 0;
    std::uint16_t fpu_control = 0;
    asm volatile("stmxcsr %0" : "=m"(mxcsr));
    asm volatile("fnstcw %0" : "=m"(fpu_control));
    *--slot = mxcsr | std::uint64_t{fpu_control} << 32;
    sp_ = slot;
  }
  // Saves the running context in `from` and resumes `to`.
  static void jump(machine_context& from, machine_context& to) {
    volley_checker_switch(&from.sp_, to.sp_);
  }

 private:
  void* sp_ = nullptr;
};
#else
class machine_context {
 public:
  void start(char* stack, std::size_t size, void (*entry)()) {
    getcontext(&uc_);
    uc_.uc_stack.ss_sp = stack;
    uc_.uc_stack.ss_size = size;
    uc_.uc_link = nullptr;
    makecontext(&uc_, entry, 0);
  }
  static void jump(machine_context& from, machine_context& to) { swapcontext(&from.uc_, &to.uc_); }

 private:
  ucontext_t uc_{};
};
#endif

struct fiber {
  machine_context ctx;
  char* stack = nullptr;
  std::function<void()> body;
  bool done = false;
  bool waiting = false;  // in spin_wait: runs again once a model atomic changed
  void* fake_stack = nullptr;
};

// One choice point: which fiber ran the next operation, out of `count`
// candidates listed as "the current fiber first (if it can continue), then
// the others in spawn order"; or, for choose(), which value (candidates
// unused, never a preemption).
struct choice {
  std::uint8_t count;
  std::uint8_t index;
  std::uint8_t candidates[max_fibers];
  bool current_runnable;  // index > 0 is then a preemption
  int preemptions_before;
};

}  // namespace

struct explorer {
  const options& opts;
  std::vector<fiber> fibers;
  std::vector<std::function<void()>> end_checks;
  std::vector<choice> trace;         // this run's choice points
  std::vector<std::uint8_t> prefix;  // indices to replay
  std::size_t depth = 0;             // choice points passed in this run
  std::vector<std::uint8_t> steps;   // who ran each operation (for the failure report)
  std::vector<std::uint8_t> values;  // what each choose() returned (likewise)
  int current = -1;                  // running fiber, -1 = the explorer itself
  int preemptions = 0;
  bool run_failed = false;
  std::string failure;
  machine_context main_ctx;
  void* main_fake_stack = nullptr;
  const void* main_stack_bottom = nullptr;
  std::size_t main_stack_size = 0;

  explicit explorer(const options& o) : opts(o) {}

  static explorer*& active() {
    static explorer* x = nullptr;
    return x;
  }

  [[noreturn]] static void trampoline() {
    explorer* x = active();
    finish_switch(nullptr, &x->main_stack_bottom, &x->main_stack_size);
    fiber& f = x->fibers[static_cast<std::size_t>(x->current)];
    f.body();
    f.done = true;
    // nullptr: this fiber's fake stack dies with it.
    start_switch(nullptr, x->main_stack_bottom, x->main_stack_size);
    machine_context::jump(f.ctx, x->main_ctx);
    std::abort();  // a finished fiber is never resumed
  }

  void add_fiber(std::function<void()> body) {
    if (fibers.size() == max_fibers) {
      std::fprintf(stderr, "checker: more than %zu fibers\n", max_fibers);
      std::abort();
    }
    fibers.emplace_back();
    fibers.back().body = std::move(body);
  }

  void prepare(std::vector<std::unique_ptr<char[]>>& stacks) {
    for (std::size_t i = 0; i < fibers.size(); ++i) {
      fiber& f = fibers[i];
      if (stacks.size() <= i) stacks.push_back(std::make_unique<char[]>(stack_size));
      f.stack = stacks[i].get();
#if VOLLEY_CHECKER_ASAN
      // The last run's frames may have left their redzones poisoned: an
      // abandoned fiber's never returned, nor does the trampoline's.
      ASAN_UNPOISON_MEMORY_REGION(f.stack, stack_size);
#endif
      f.ctx.start(f.stack, stack_size, &trampoline);
    }
  }

  // The running fiber hands control back to the explorer.
  void switch_to_main() {
    fiber& f = fibers[static_cast<std::size_t>(current)];
    start_switch(&f.fake_stack, main_stack_bottom, main_stack_size);
    machine_context::jump(f.ctx, main_ctx);
    finish_switch(f.fake_stack, nullptr, nullptr);
  }

  void run_fiber(int i) {
    current = i;
    fiber& f = fibers[static_cast<std::size_t>(i)];
    start_switch(&main_fake_stack, f.stack, stack_size);
    machine_context::jump(main_ctx, f.ctx);
    finish_switch(main_fake_stack, nullptr, nullptr);
  }

  void fail(const char* what) {
    if (!run_failed) {
      run_failed = true;
      failure = what;
    }
  }

  static constexpr int abandon = -2;

  // Picks the fiber that runs next; -1 when all are done, `abandon` when the
  // run is a livelock (its fibers are dropped where they stand: their stacks
  // are reused, so nothing on them is destroyed).
  int pick() {
    choice c{};
    c.current_runnable = current >= 0 && !fibers[static_cast<std::size_t>(current)].done;
    if (c.current_runnable) c.candidates[c.count++] = static_cast<std::uint8_t>(current);
    if (c.current_runnable && fibers[static_cast<std::size_t>(current)].waiting) {
      c.current_runnable = false;  // it gave way: switching is not a preemption
      c.count = 0;
    }
    bool any_waiting = false;
    for (std::size_t i = 0; i < fibers.size(); ++i) {
      if (fibers[i].done || (c.current_runnable && static_cast<int>(i) == current)) continue;
      if (fibers[i].waiting) {
        any_waiting = true;
        continue;
      }
      c.candidates[c.count++] = static_cast<std::uint8_t>(i);
    }
    if (c.count == 0 && any_waiting) {
      // Nobody else can run: the waiters retry. If that never ends, the
      // max_steps guard reports it.
      for (fiber& g : fibers) g.waiting = false;
      return pick();
    }
    if (c.count == 0) return -1;
    if (steps.size() > opts.max_steps) {
      fail(
          "livelock: a run exceeded max_steps operations (a lost wake-up, or a thread spins on "
          "another)");
      return abandon;
    }
    if (c.count == 1) return c.candidates[0];
    c.preemptions_before = preemptions;
    c.index = next_index(c.count);
    if (c.current_runnable && c.index > 0) ++preemptions;
    trace.push_back(c);
    ++depth;
    return c.candidates[c.index];
  }

  // A choice point's index: the prefix's while replaying, else 0 (the default).
  std::uint8_t next_index(std::uint8_t count) const {
    if (depth >= prefix.size()) return 0;
    if (prefix[depth] >= count) {
      std::fprintf(stderr, "checker: the test body is not deterministic (replay diverged)\n");
      std::abort();
    }
    return prefix[depth];
  }

  // choose(n): a choice point like pick()'s, over values instead of fibers.
  int choose_value(int n) {
    if (n <= 1) return 0;
    if (n > static_cast<int>(max_fibers)) {
      std::fprintf(stderr, "checker: choose(%d): at most %zu values\n", n, max_fibers);
      std::abort();
    }
    choice c{};
    c.count = static_cast<std::uint8_t>(n);
    c.current_runnable = false;  // the fiber goes on whichever value: no preemption
    c.preemptions_before = preemptions;
    c.index = next_index(c.count);
    trace.push_back(c);
    ++depth;
    values.push_back(c.index);
    return c.index;
  }

  // Next schedule: the deepest choice point with an alternative left within
  // the preemption bound. False when the space is exhausted.
  bool advance() {
    while (!trace.empty()) {
      choice& c = trace.back();
      for (int i = c.index + 1; i < c.count; ++i) {
        int p = c.preemptions_before + (c.current_runnable ? 1 : 0);
        if (opts.preemption_bound < 0 || p <= opts.preemption_bound) {
          c.index = static_cast<std::uint8_t>(i);
          prefix.clear();
          for (const choice& t : trace) prefix.push_back(t.index);
          return true;
        }
      }
      trace.pop_back();
    }
    return false;
  }

  // "T0:3 T1:5 ..." = fiber 0 ran 3 steps, then fiber 1 ran 5, ... (a step is
  // one model-atomic operation and the plain code after it).
  // A livelock's tail (two sleepers taking turns for max_steps) is cut after
  // `shown` runs: the schedule that matters is its beginning.
  std::string schedule_text() const {
    constexpr std::size_t shown = 40;
    std::string s;
    std::size_t i = 0;
    std::size_t runs = 0;
    while (i < steps.size()) {
      std::size_t j = i;
      while (j < steps.size() && steps[j] == steps[i]) ++j;
      if (runs++ == shown) {
        s += " ... (" + std::to_string(steps.size()) + " steps in all)";
        break;
      }
      if (!s.empty()) s += ' ';
      s += 'T' + std::to_string(steps[i]) + ':' + std::to_string(j - i);
      i = j;
    }
    if (!values.empty()) {
      s += "; chosen values:";
      for (std::uint8_t v : values) s += ' ' + std::to_string(v);
    }
    return s;
  }
};

void execution::spawn(std::function<void()> body) {
  x_.add_fiber(std::move(body));
}

void execution::at_end(std::function<void()> check) {
  x_.end_checks.push_back(std::move(check));
}

void yield_point() noexcept {
  explorer* x = explorer::active();
  if (x == nullptr || x->current < 0) return;
  x->switch_to_main();
}

void value_changed() noexcept {
  explorer* x = explorer::active();
  if (x == nullptr || x->current < 0) return;
  for (fiber& g : x->fibers) g.waiting = false;
}

void spin_wait() noexcept {
  explorer* x = explorer::active();
  if (x == nullptr || x->current < 0) return;
  x->fibers[static_cast<std::size_t>(x->current)].waiting = true;
  x->switch_to_main();
}

int choose(int n) noexcept {
  explorer* x = explorer::active();
  if (x == nullptr || x->current < 0) return 0;
  return x->choose_value(n);
}

void check(bool ok, const char* what) {
  explorer* x = explorer::active();
  if (x != nullptr && !ok) x->fail(what);
}

report explore(const options& opts, const std::function<void(execution&)>& body) {
  report r;
  explorer x(opts);
  std::vector<std::unique_ptr<char[]>> stacks;
  explorer::active() = &x;
  for (;;) {
    x.fibers.clear();
    x.end_checks.clear();
    x.trace.clear();
    x.steps.clear();
    x.values.clear();
    x.depth = 0;
    x.current = -1;
    x.preemptions = 0;
    x.run_failed = false;
    {
      execution e(x);
      body(e);
    }
    x.prepare(stacks);
    for (int next = x.pick(); next >= 0; next = x.pick()) {
      x.steps.push_back(static_cast<std::uint8_t>(next));
      x.run_fiber(next);
    }
    x.current = -1;
    for (auto& c : x.end_checks) c();
    // The fibers' closures may own the run's state: free it now, not when
    // the next run starts.
    x.fibers.clear();
    x.end_checks.clear();
    ++r.schedules;
    if (x.run_failed) {
      if (r.failures++ == 0) {
        r.first_failure = x.failure + "\n  schedule (fiber:steps): " + x.schedule_text();
      }
      if (opts.stop_at_first_failure) break;
    }
    if (r.schedules >= opts.max_schedules) break;
    if (!x.advance()) {
      r.exhausted = true;
      break;
    }
  }
  explorer::active() = nullptr;
  return r;
}

std::string describe(const char* name, const report& r) {
  std::string s = name;
  s += ": " + std::to_string(r.schedules) + " schedules";
  s += r.exhausted ? " (all within the bound)" : " (stopped early)";
  s += ", " + std::to_string(r.failures) + " failing";
  if (r.failures != 0) s += "\n  first failure: " + r.first_failure;
  return s;
}

report run_and_print(const char* name, const options& opts,
                     const std::function<void(execution&)>& body) {
  report r = explore(opts, body);
  std::printf("%s\n", describe(name, r).c_str());
  return r;
}

}  // namespace volley::checker
