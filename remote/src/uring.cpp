// io_uring setup with graceful fallback, and the provided-buffer ring
// (liburing 2.3 API: io_uring_register_buf_ring + buf_ring_add/advance).
#include "uring.hpp"

#include <sys/mman.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

namespace volley::remote::detail {

uring::uring(unsigned entries) {
  // SINGLE_ISSUER + DEFER_TASKRUN (6.1+): completions are processed only when
  // the loop asks for them, in its own context, instead of interrupting it
  // with task work; this is the fast path for a one-thread-per-ring design.
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  int rc = io_uring_queue_init_params(entries, &ring_, &params);
  if (rc == 0) {
    defer_taskrun_ = true;
  } else {
    // Older kernels refuse unknown setup flags with EINVAL: retry without them.
    params = {};
    rc = io_uring_queue_init_params(entries, &ring_, &params);
    if (rc < 0)
      throw std::system_error(
          -rc, std::generic_category(),
          "volley::remote: io_uring is unavailable (io_uring_queue_init failed; needs Linux >= "
          "6.0 and io_uring not blocked by seccomp or sysctl kernel.io_uring_disabled)");
  }
  // A ring is no promise of what the transport uses: without the probe, a
  // kernel lacking multishot receive starts fine and then fails every
  // connection. Say which piece is missing, once, here.
  std::string missing = missing_feature(probe_features(ring_, params.features));
  if (!missing.empty()) {
    io_uring_queue_exit(&ring_);
    throw std::system_error(EOPNOTSUPP, std::generic_category(), "volley::remote: " + missing);
  }
  // A registered ring fd (5.18+) spares every io_uring_enter the file-table
  // lookup of the ring (fget/fput: ~2.5% of a busy_poll loop's profile,
  // which enters the kernel once per spin). The registration belongs to this
  // thread, which is the only one to enter the ring (SINGLE_ISSUER); without
  // it liburing passes the plain fd, as before.
  ring_fd_registered_ = io_uring_register_ring_fd(&ring_) == 1;
}

uring_features probe_features(io_uring& ring, unsigned feature_flags) {
  uring_features f;
  utsname u{};
  f.kernel = uname(&u) == 0 ? u.release : "?";
  f.feature_flags = feature_flags;
  if (io_uring_probe* p = io_uring_get_probe_ring(&ring)) {
    f.opcodes.resize(IORING_OP_LAST);
    for (unsigned op = 0; op < IORING_OP_LAST; ++op)
      f.opcodes[op] = io_uring_opcode_supported(p, static_cast<int>(op)) != 0;
    io_uring_free_probe(p);
  }
  return f;
}

std::string missing_feature(const uring_features& f) {
  // What the transport uses, oldest first, each with the kernel that brought
  // it. Multishot accept and receive are flags, not opcodes, so they are
  // recognised by an opcode that arrived in the same release: SOCKET with
  // multishot accept and buffer rings (5.19), SEND_ZC with multishot
  // receive (6.0).
  struct need {
    unsigned op;  // IORING_OP_LAST: a feature flag instead
    unsigned flag;
    const char* what;
    const char* since;
  };
  static constexpr need needs[] = {
      {IORING_OP_LAST, IORING_FEAT_NODROP, "completion overflow without loss", "5.5"},
      {IORING_OP_SENDMSG, 0, "sendmsg", "5.3"},
      {IORING_OP_CONNECT, 0, "connect", "5.5"},
      {IORING_OP_ASYNC_CANCEL, 0, "cancellation", "5.5"},
      {IORING_OP_READ, 0, "read", "5.6"},
      {IORING_OP_RECV, 0, "receive", "5.6"},
      {IORING_OP_LAST, IORING_FEAT_EXT_ARG, "waits with a timeout", "5.11"},
      {IORING_OP_SOCKET, 0, "multishot accept and buffer rings", "5.19"},
      {IORING_OP_SEND_ZC, 0, "multishot receive", "6.0"},
  };
  for (const need& n : needs) {
    bool ok = n.op == IORING_OP_LAST ? (f.feature_flags & n.flag) != 0 : f.supports(n.op);
    if (!ok) return "kernel " + f.kernel + " lacks " + n.what + " (needs " + n.since + ")";
  }
  return {};
}

uring::~uring() {
  if (buf_ring_) {
    io_uring_unregister_buf_ring(&ring_, group_);
    munmap(buf_ring_, buf_ring_bytes_);
  }
  io_uring_queue_exit(&ring_);
}

io_uring_sqe* uring::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  for (int i = 0; !s && i < max_submit_tries; ++i) {
    int rc = submit_(&ring_);
    // -EBUSY/-EAGAIN: the CQ is full or the kernel is short of memory; only
    // reaping (the loop's next turn) helps, and -EINTR may succeed at once.
    // Anything else will not get better by asking again.
    if (rc < 0 && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) break;
    s = io_uring_get_sqe(&ring_);
  }
  return s;
}

void uring::setup_buffers(unsigned count, unsigned size, std::uint16_t group) {
  // The kernel's limit on a provided-buffer ring (IORING_REGISTER_PBUF_RING
  // refuses 2^16 entries or more: its head and tail are 16 bits, and a full
  // ring of 2^16 would look empty), and entries come in powers of two.
  constexpr unsigned max_buffers = 32768;
  if (count == 0 || (count & (count - 1)) != 0 || count > max_buffers)
    throw std::invalid_argument("volley::remote: recv_buffer_count must be a power of two <= " +
                                std::to_string(max_buffers));
  buf_ring_bytes_ = sizeof(io_uring_buf) * count;
  // The ring must be page aligned; mmap gives that and zeroed memory.
  void* mem =
      mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED)
    throw std::system_error(errno, std::generic_category(), "volley::remote: mmap buffer ring");
  buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(mem);
  reg.ring_entries = count;
  reg.bgid = group;
  int rc = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (rc < 0) {
    munmap(mem, buf_ring_bytes_);
    buf_ring_ = nullptr;
    throw std::system_error(
        -rc, std::generic_category(),
        "volley::remote: io_uring_register_buf_ring failed (needs Linux >= 5.19)");
  }
  group_ = group;
  buffer_count_ = count;
  buffer_size_ = size;
  buffers_ = std::make_unique<std::byte[]>(std::size_t(count) * size);
  io_uring_buf_ring_init(buf_ring_);
  for (unsigned i = 0; i < count; ++i) recycle(static_cast<std::uint16_t>(i));
  publish_buffers();
}

void uring::recycle(std::uint16_t bid) noexcept {
  io_uring_buf_ring_add(buf_ring_, buffer(bid), buffer_size_, bid,
                        io_uring_buf_ring_mask(buffer_count_), recycled_);
  ++recycled_;
}

void uring::publish_buffers() noexcept {
  if (recycled_) io_uring_buf_ring_advance(buf_ring_, recycled_);
  recycled_ = 0;
}

}  // namespace volley::remote::detail
