#include "child_process.hpp"

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace volley::bench {

namespace {

// Written by a signal handler, read by the polling loops below: a
// volatile sig_atomic_t is the one type a handler may write portably.
volatile std::sig_atomic_t pending_interrupt = 0;

struct pipe_pair {
  int read_end = -1, write_end = -1;
  pipe_pair() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
      throw std::system_error(errno, std::generic_category(), "pipe2");
    read_end = fds[0];
    write_end = fds[1];
  }
  ~pipe_pair() {
    if (read_end >= 0) close(read_end);
    if (write_end >= 0) close(write_end);
  }
  void close_write() {
    close(write_end);
    write_end = -1;
  }
};

// Reads what is available; false at end of file.
bool drain(int fd, std::string& into) {
  char buffer[65536];
  ssize_t n = read(fd, buffer, sizeof buffer);
  if (n > 0) {
    into.append(buffer, static_cast<std::size_t>(n));
    return true;
  }
  return n < 0 && (errno == EINTR || errno == EAGAIN);
}

}  // namespace

std::map<std::string, double> thread_cpu_times(int pid) {
  std::map<std::string, double> out;
  std::error_code ec;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream comm(task.path() / "comm"), schedstat(task.path() / "schedstat");
    std::string name;
    double run_ns = 0;  // schedstat's first field: time on a CPU, in ns
    // A thread that exits between the listing and the reads is skipped.
    if (std::getline(comm, name) && schedstat >> run_ns) out[name] += run_ns * 1e-9;
  }
  return out;
}

void keep_later_sample(std::map<std::string, double>& kept, std::map<std::string, double> sample) {
  // CPU time only grows: a smaller total is a sample taken as threads
  // exited (workers joined at shutdown, or the zombie), and the earlier
  // one says more.
  auto total = [](const std::map<std::string, double>& m) {
    double sum = 0;
    for (const auto& [name, s] : m) sum += s;
    return sum;
  };
  if (total(sample) >= total(kept)) kept = std::move(sample);
}

void request_interrupt(int signal) noexcept {
  pending_interrupt = signal;
}

int interrupt_signal() noexcept {
  return pending_interrupt;
}

child_result run_child(const std::vector<std::string>& argv, std::chrono::duration<double> limit,
                       bool sample_threads) {
  pipe_pair out, err;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out.write_end, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err.write_end, STDERR_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "cannot start " + argv[0]);
  out.close_write();
  err.close_write();

  child_result result;
  auto deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(limit);
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (pending_interrupt != 0) {
      kill(-pid, SIGKILL);
      result.interrupted = true;
      break;
    }
    if (left.count() <= 0) {
      // The whole process group: a workload's own children die with it.
      kill(-pid, SIGKILL);
      result.timed_out = true;
      break;
    }
    pollfd fds[2] = {{out.read_end, POLLIN, 0}, {err.read_end, POLLIN, 0}};
    // 20 ms between thread samples: 15 or more over the shortest timed
    // window the suite allows (0.25 s + start-up).
    const long long wait_ms = sample_threads ? 20 : 1000;
    int ready = poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), wait_ms)));
    if (sample_threads) keep_later_sample(result.thread_cpu_s, thread_cpu_times(pid));
    if (ready < 0 && errno != EINTR)
      throw std::system_error(errno, std::generic_category(), "poll");
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP)))
      out_open = drain(out.read_end, result.out);
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP)))
      err_open = drain(err.read_end, result.err);
  }
  // A child may close its output and still run: the limit holds until it exits.
  // wait4, not waitpid: its rusage is the child's CPU time (all threads,
  // user and system), which the report sets beside the throughput.
  int status = 0;
  rusage usage{};
  while (true) {
    const bool killed = result.timed_out || result.interrupted;
    pid_t done = wait4(pid, &status, killed ? 0 : WNOHANG, &usage);
    if (done == pid || (done < 0 && errno != EINTR)) break;
    if (done == 0) {
      if (pending_interrupt != 0) {
        kill(-pid, SIGKILL);
        result.interrupted = true;
      } else if (std::chrono::steady_clock::now() >= deadline) {
        kill(-pid, SIGKILL);
        result.timed_out = true;
      } else {
        usleep(10'000);
      }
    }
  }
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  result.user_s = seconds(usage.ru_utime);
  result.sys_s = seconds(usage.ru_stime);
  result.max_rss_kib = usage.ru_maxrss;
  result.voluntary_switches = usage.ru_nvcsw;
  result.involuntary_switches = usage.ru_nivcsw;
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

std::string tail_lines(const std::string& text, std::size_t max_lines) {
  std::size_t end = text.size();
  while (end > 0 && text[end - 1] == '\n') --end;
  std::size_t pos = end, lines = 0;
  while (pos > 0) {
    if (text[pos - 1] == '\n' && ++lines == max_lines) break;
    --pos;
  }
  return text.substr(pos, end - pos);
}

}  // namespace volley::bench
