// A second process for tests that need one: a peer node that can be frozen
// (SIGSTOP) or killed, a peer inside another network namespace, a helper
// program such as iproute2's `ip`, or a function that must run where a
// seccomp filter or a resource limit cannot leak into the test process.
//
//     child_process peer({VOLLEY_REMOTE_PEER, "0"});
//     std::uint16_t port = peer.read_port();  // the peer prints its port
//     peer.signal(SIGSTOP);
//
//     child_process c = child_process::run([] { return deny() ? 0 : 3; });
//     CHECK(c.wait() == 0);
//
// A program's stdin and stdout are pipes to the test. The peers read stdin
// until it closes, so a peer ends when the test does, even when the test
// dies. The destructor kills (SIGKILL) and reaps whatever is still running.
//
// Between fork and exec the child makes only async-signal-safe calls (the
// test process has threads, one of which may hold malloc's lock). A function
// child runs ordinary code; it is used only where the function is the point
// of the test, and it ends with _exit so no destructor or atexit handler of
// the copied test process runs twice.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace volley::remote::test {

class child_process {
 public:
  /// Exit status of a program child whose exec failed (the shell's convention).
  static constexpr int exec_failed = 127;
  /// Exit status of a child that could not enter its network namespace.
  static constexpr int setns_failed = 126;

  struct options {
    /// A network namespace (an open /proc/.../ns/net or /run/netns file)
    /// the child enters before exec; -1: stay in ours.
    int netns_fd = -1;
    /// Send the program's stdout to /dev/null instead of a pipe.
    bool discard_stdout = false;
    /// Pipe the program's stderr to us (read_stderr()); otherwise it is ours.
    bool capture_stderr = false;
  };

  /// Runs the program at argv[0] with arguments argv[1..].
  explicit child_process(const std::vector<std::string>& argv) : child_process(argv, options{}) {}
  child_process(const std::vector<std::string>& argv, const options& opt) {
    if (argv.empty()) throw std::invalid_argument("child_process: no program");
    // Everything the child needs is built before fork: no allocation after.
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int in[2], out[2] = {-1, -1}, err[2] = {-1, -1};
    if (::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    if (!opt.discard_stdout && ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    if (opt.capture_stderr && ::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    int null = opt.discard_stdout ? ::open("/dev/null", O_WRONLY | O_CLOEXEC) : -1;
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {  // async-signal-safe calls only until exec
      if (opt.netns_fd >= 0 && ::setns(opt.netns_fd, CLONE_NEWNET) != 0) ::_exit(setns_failed);
      // dup2 clears O_CLOEXEC on the copy; the originals close at exec.
      ::dup2(in[0], STDIN_FILENO);
      ::dup2(opt.discard_stdout ? null : out[1], STDOUT_FILENO);
      if (opt.capture_stderr) ::dup2(err[1], STDERR_FILENO);
      ::execv(args[0], args.data());
      ::_exit(exec_failed);
    }
    ::close(in[0]);
    to_child_ = in[1];
    if (out[1] >= 0) ::close(out[1]);
    from_child_ = out[0];
    if (err[1] >= 0) ::close(err[1]);
    err_from_child_ = err[0];
    if (null >= 0) ::close(null);
  }

  /// Forks and runs `fn` in the child; its return value is the exit status.
  template <class Fn>
  static child_process run(Fn fn) {
    child_process c;
    c.pid_ = ::fork();
    if (c.pid_ < 0) throw std::runtime_error("fork");
    if (c.pid_ == 0) ::_exit(fn());
    return c;
  }

  ~child_process() {
    if (pid_ > 0 && !reaped_) ::kill(pid_, SIGKILL);
    close_fds();
    if (pid_ > 0 && !reaped_) ::waitpid(pid_, nullptr, 0);
  }
  child_process(child_process&& o) noexcept
      : pid_(std::exchange(o.pid_, -1)),
        reaped_(o.reaped_),
        to_child_(std::exchange(o.to_child_, -1)),
        from_child_(std::exchange(o.from_child_, -1)),
        err_from_child_(std::exchange(o.err_from_child_, -1)) {}
  child_process& operator=(child_process&&) = delete;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }

  /// One line of the program's stdout, without the newline; what there is
  /// when it ends first.
  std::string read_line() {
    std::string line;
    char ch;
    while (::read(from_child_, &ch, 1) == 1 && ch != '\n') line += ch;
    return line;
  }
  /// The port a peer prints on its first line (0 if it failed or died first).
  std::uint16_t read_port() { return static_cast<std::uint16_t>(std::atoi(read_line().c_str())); }

  /// All of the program's stderr, until it closes (capture_stderr only).
  std::string read_stderr() {
    std::string text;
    char buf[256];
    for (ssize_t n; (n = ::read(err_from_child_, buf, sizeof buf)) > 0;)
      text.append(buf, static_cast<std::size_t>(n));
    return text;
  }

  /// Closes the child's stdin and waits for it to end. Its exit status, or
  /// 128 + the signal that killed it (the shell's convention).
  int wait() {
    close_fd(to_child_);
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return -1;
    reaped_ = true;
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
  }

 private:
  child_process() = default;

  static void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  void close_fds() {
    close_fd(to_child_);
    close_fd(from_child_);
    close_fd(err_from_child_);
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  int to_child_ = -1;
  int from_child_ = -1;
  int err_from_child_ = -1;
};

}  // namespace volley::remote::test
