// tests/proc_threads.hpp — what /proc/self/task says about this process's
// threads: their names (comm) and how often the kernel preempted one
// (status: nonvoluntary_ctxt_switches). Engine and remote tests share it.
#pragma once

#include <dirent.h>
#include <sys/types.h>

#include <fstream>
#include <set>
#include <string>

namespace volley::test {

/// The names of this process's threads now, one entry per thread.
inline std::multiset<std::string> thread_names() {
  std::multiset<std::string> names;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
      std::string name;
      std::getline(comm, name);
      names.insert(name);  // a thread that ended meanwhile counts, unnamed
    }
    ::closedir(d);
  }
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

}  // namespace volley::test
