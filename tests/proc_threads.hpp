// tests/proc_threads.hpp — what /proc/self/task says about this process's
// threads: their names (comm) and how often the kernel preempted one
// (status: nonvoluntary_ctxt_switches), and the CPU time one has used and
// the time it was runnable (schedstat). Engine and remote tests share it.
#pragma once

#include <dirent.h>
#include <sys/types.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace volley::test {

/// Calls `visit(tid, name)` for each of this process's threads now (a
/// thread that ended meanwhile is visited unnamed).
template <class Visit>
void for_each_thread(Visit&& visit) {
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
      std::string name;
      std::getline(comm, name);
      visit(static_cast<pid_t>(std::stol(e->d_name)), name);
    }
    ::closedir(d);
  }
}

/// The names of this process's threads now, one entry per thread.
inline std::multiset<std::string> thread_names() {
  std::multiset<std::string> names;
  for_each_thread([&](pid_t, const std::string& name) { names.insert(name); });
  return names;
}

/// How many times the kernel preempted thread `tid` of this process (its
/// involuntary context switches), or -1 if it cannot be read.
inline long preemptions_of(pid_t tid) {
  std::ifstream status("/proc/self/task/" + std::to_string(tid) + "/status");
  const std::string key = "nonvoluntary_ctxt_switches:";
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(key.size()));
  }
  return -1;
}

/// The ids of this process's threads whose name starts with `prefix`.
inline std::vector<pid_t> threads_named(const std::string& prefix) {
  std::vector<pid_t> tids;
  for_each_thread([&](pid_t tid, const std::string& name) {
    if (name.rfind(prefix, 0) == 0) tids.push_back(tid);
  });
  return tids;
}

/// The CPU time thread `tid` of this process has used so far, in ns (the
/// first field of its schedstat), or -1 if it cannot be read.
inline long long cpu_ns_of(pid_t tid) {
  std::ifstream schedstat("/proc/self/task/" + std::to_string(tid) + "/schedstat");
  long long ns = -1;
  if (!(schedstat >> ns)) return -1;
  return ns;
}

/// How long thread `tid` of this process has been runnable so far, in ns:
/// on a CPU or waiting for one (the first two fields of its schedstat), or
/// -1 if it cannot be read. Unlike CPU time, a thread that spins and yields
/// on a loaded machine still counts all its time here.
inline long long runnable_ns_of(pid_t tid) {
  std::ifstream schedstat("/proc/self/task/" + std::to_string(tid) + "/schedstat");
  long long on_cpu = -1, waiting = -1;
  if (!(schedstat >> on_cpu >> waiting)) return -1;
  return on_cpu + waiting;
}

}  // namespace volley::test
