// The transport's io_uring wrapper (remote/src/uring.hpp): the feature probe
// names what a kernel lacks, and sqe() gives up instead of spinning when the
// kernel takes nothing.
#include "../../remote/src/uring.hpp"
#include "test_support.hpp"

#include <volley/remote/transport.hpp>

#include <catch2/catch.hpp>

#include <cerrno>
#include <string>
#include <thread>

using namespace volley::remote;
using namespace volley::remote::test;
using volley::remote::detail::missing_feature;
using volley::remote::detail::uring;
using volley::remote::detail::uring_features;

namespace {

/// Everything the transport uses, on a made-up kernel.
uring_features full_features() {
  uring_features f;
  f.kernel = "6.1.0-test";
  f.opcodes.assign(IORING_OP_LAST, true);
  f.feature_flags = IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG;
  return f;
}

int submit_calls = 0;
int submit_busy(io_uring*) {
  ++submit_calls;
  return -EBUSY;
}
int submit_broken(io_uring*) {
  ++submit_calls;
  return -EBADF;
}

}  // namespace

TEST_CASE("a kernel with every feature passes the probe", "[remote][uring]") {
  CHECK(missing_feature(full_features()).empty());
}

TEST_CASE("the probe names the missing feature and the kernel that brings it", "[remote][uring]") {
  SECTION("multishot receive") {
    uring_features f = full_features();
    f.kernel = "5.19.0";
    f.opcodes[IORING_OP_SEND_ZC] = false;
    CHECK(missing_feature(f) == "kernel 5.19.0 lacks multishot receive (needs 6.0)");
  }
  SECTION("multishot accept and buffer rings") {
    uring_features f = full_features();
    f.kernel = "5.15.0";
    f.opcodes[IORING_OP_SOCKET] = false;
    f.opcodes[IORING_OP_SEND_ZC] = false;
    // The oldest gap is named first: it is the one to upgrade past.
    CHECK(missing_feature(f) ==
          "kernel 5.15.0 lacks multishot accept and buffer rings (needs 5.19)");
  }
  SECTION("waits with a timeout") {
    uring_features f = full_features();
    f.feature_flags &= ~IORING_FEAT_EXT_ARG;
    CHECK(missing_feature(f) == "kernel 6.1.0-test lacks waits with a timeout (needs 5.11)");
  }
  SECTION("a probe that failed altogether") {
    uring_features f = full_features();
    f.opcodes.clear();
    CHECK(missing_feature(f) == "kernel 6.1.0-test lacks sendmsg (needs 5.3)");
  }
}

TEST_CASE("this machine's kernel passes the probe", "[remote][uring]") {
  // The transport tests run here, so the kernel has what they need; a ring
  // that throws would name the gap.
  uring ring(8);
  CHECK(missing_feature(detail::probe_features(*ring.get(), ring.get()->features)).empty());
}

TEST_CASE("a ring enters the kernel through its registered fd and still completes work",
          "[remote][uring]") {
  // Registration needs 5.18, below the probe's 6.0: a kernel that passes the
  // probe registers, and every io_uring_enter then skips the fd lookup.
  uring ring(8);
  CHECK(ring.ring_fd_registered());
  io_uring_sqe* s = ring.sqe();
  REQUIRE(s != nullptr);
  io_uring_prep_nop(s);
  io_uring_sqe_set_data64(s, 42);
  io_uring_cqe* cqe = nullptr;
  REQUIRE(io_uring_submit_and_wait(ring.get(), 1) == 1);
  REQUIRE(io_uring_peek_cqe(ring.get(), &cqe) == 0);
  CHECK(cqe->user_data == 42);
  CHECK(cqe->res == 0);
  io_uring_cqe_seen(ring.get(), cqe);
}

TEST_CASE("sqe() gives up after a bounded number of failed submits", "[remote][uring]") {
  uring ring(4);
  // Fill the submission queue without submitting.
  int filled = 0;
  while (io_uring_sqe* s = io_uring_get_sqe(ring.get())) {
    io_uring_prep_nop(s);
    ++filled;
  }
  REQUIRE(filled >= 4);
  SECTION("the kernel stays busy: a few tries, then nullptr") {
    submit_calls = 0;
    ring.set_submit_for_test(&submit_busy);
    CHECK(ring.sqe() == nullptr);
    CHECK(submit_calls == uring::max_submit_tries);
  }
  SECTION("an error that will not pass: one try") {
    submit_calls = 0;
    ring.set_submit_for_test(&submit_broken);
    CHECK(ring.sqe() == nullptr);
    CHECK(submit_calls == 1);
  }
  SECTION("a working submit makes room") {
    CHECK(ring.sqe() != nullptr);
  }
}

TEST_CASE("two transports on tiny rings still handshake and exchange frames",
          "[remote][uring][transport]") {
  // Four SQEs: every turn fills the queue, so sqe() has to submit to make room.
  auto tiny = [](std::string name) {
    auto c = test_config(std::move(name));
    c.ring_entries = 4;
    return c;
  };
  recording_handler ha, hb;
  transport a(tiny("node-a"), ha);
  transport b(tiny("node-b"), hb);
  connection_id id = b.connect("127.0.0.1", a.port());
  constexpr std::uint64_t count = 10'000;
  for (std::uint64_t i = 0; i < count; ++i) {
    frame f;
    f.kind = frame_kind::message;
    f.flags = flag_target_id;
    f.target_id = 1;
    f.correlation_id = i;
    while (b.send(id, f) == send_result::queue_full) std::this_thread::yield();
  }
  REQUIRE(ha.wait([&] { return ha.frames == count; }));
  CHECK_FALSE(ha.with_lock([&] { return ha.out_of_order; }));
}
