// Where io_uring is refused (old kernel, seccomp profile of a container,
// sysctl kernel.io_uring_disabled), constructing a transport must fail with an
// exception that names io_uring, not crash or hang. We make the kernel refuse
// it for real: a child process installs a seccomp filter that answers
// io_uring_setup with EPERM, then tries to construct a transport.
#include "child_process.hpp"

#include <volley/remote/transport.hpp>

#include <catch2/catch.hpp>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstddef>
#include <string>
#include <system_error>

using namespace volley::remote;
using volley::remote::test::child_process;

namespace {

struct quiet_handler : transport_handler {
  void on_frame(const peer_info&, const frame&) override {}
};

bool deny_io_uring_setup() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),  // other ABIs: leave alone
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

}  // namespace

#if defined(__x86_64__)
TEST_CASE("a transport refuses to start, naming io_uring, when the kernel denies io_uring",
          "[remote][transport]") {
  // Exit codes: 0 refused with a message naming io_uring, 1 started anyway,
  // 2 other exception, 3 could not install the filter. In a child, so the
  // filter does not outlive the test.
  auto child = child_process::run([] {
    if (!deny_io_uring_setup()) return 3;
    quiet_handler h;
    transport_config cfg;
    cfg.node_name = "denied";
    cfg.secret = "s";
    try {
      transport t(cfg, h);
      return 1;
    } catch (const std::system_error& e) {
      return std::string(e.what()).find("io_uring") != std::string::npos &&
                     e.code().value() == EPERM
                 ? 0
                 : 2;
    } catch (...) {
      return 2;
    }
  });
  CHECK(child.wait() == 0);
}
#endif
