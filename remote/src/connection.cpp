// send_queue and outbound_item; see connection.hpp for the send path.
#include "connection.hpp"

#include <atomic>
#include <cstring>
#include <new>
#include <utility>

namespace volley::remote::detail {

// -- item chunks ----------------------------------------------------------------
//
// A producer thread carves items out of its current chunk by bumping an offset;
// only that thread touches `used` and `carved`. The loop thread releases items
// in any order. Ownership is decided by one signed counter, `live`:
//
//   - each release by the loop subtracts 1, so until the producer retires the
//     chunk `live` only goes down from 0 and no release can see it reach 0;
//   - when the producer retires the chunk (full, or thread exit) it adds the
//     number it carved, making `live` = items still out (>= 0). Whoever brings
//     it to exactly 0 frees the chunk: the producer if everything was already
//     released, else the last release.
//
// acq_rel on both sides: the freeing thread must see every other thread's last
// use of the chunk.
//
// Why chunks: glibc malloc/free of one small block per frame, freed on another
// thread than the one that allocated it, was ~20% of the one-way profile.

//
// `live` has a cache line of its own: the producer writes `used`/`carved` per
// item and the loop wrote `live` per item, and sharing one line made the
// loop's release the hottest instruction on its thread (5% of the one-way
// profile, perf, bench/remote/remote_transport_bench). The loop now also
// releases a run of items from one chunk with one RMW (item_releaser).
// (item_chunk itself is in connection.hpp: grow() is inline.)

/// This thread's current chunk. Trivially constructed and destroyed, so make() and grow() read it
/// with one thread-pointer load: a thread_local with a destructor is reached through its init guard
/// on every access (~20 of make()'s ~50 instructions, callgrind, remote_bench one-way, the sending
/// thread). chunk_retirer, touched only when a chunk is taken, retires it at thread exit.
constinit thread_local item_chunk* this_thread_chunk = nullptr;

namespace {

struct chunk_retirer {
  chunk_retirer() = default;
  chunk_retirer(const chunk_retirer&) = delete;
  chunk_retirer& operator=(const chunk_retirer&) = delete;
  ~chunk_retirer() {
    if (item_chunk* c = std::exchange(this_thread_chunk, nullptr)) c->retire();
  }
};
thread_local chunk_retirer this_thread_retirer;

/// make()'s slow path: this thread's chunk is full (or it has none).
[[gnu::noinline]] item_chunk* fresh_chunk() {
  [[maybe_unused]] chunk_retirer& at_exit = this_thread_retirer;  // constructed once per thread
  if (item_chunk* full = std::exchange(this_thread_chunk, nullptr)) full->retire();
  // If new throws, the thread holds no retired chunk.
  this_thread_chunk = new item_chunk;
  return this_thread_chunk;
}

}  // namespace

outbound_item* outbound_item::make(type what, connection_id id, std::uint32_t size) {
  std::size_t need = item_chunk::round_up(sizeof(outbound_item) + size);
  item_chunk* chunk = nullptr;
  void* mem;
  if (need > item_chunk::largest_carved) {
    mem = ::operator new(need);  // large frames: their own block
  } else {
    chunk = this_thread_chunk;
    if (chunk == nullptr || chunk->used + need > item_chunk::capacity) chunk = fresh_chunk();
    mem = chunk->storage + chunk->used;
    chunk->used += need;
    ++chunk->carved;
    chunk->prefetch_ahead();
  }
  auto* item = ::new (mem) outbound_item;
  item->what = what;
  item->id = id;
  item->size = size;
  item->chunk = chunk;
  return item;
}

void outbound_item::destroy(outbound_item* item) noexcept {
  item_chunk* chunk = item->chunk;
  item->~outbound_item();
  if (chunk) {
    chunk->release();
  } else {
    ::operator delete(item);
  }
}

void item_releaser::release(outbound_item* item) noexcept {
  item_chunk* chunk = item->chunk;
  if (!chunk) {
    outbound_item::destroy(item);
    return;
  }
  item->~outbound_item();
  if (chunk != chunk_) {
    flush();
    chunk_ = chunk;
  }
  ++held_;
}

void item_releaser::flush() noexcept {
  if (held_) chunk_->release(held_);
  chunk_ = nullptr;
  held_ = 0;
}

send_queue::~send_queue() {
  for (auto& s : queue_) release(s);
  for (auto& s : in_flight_) release(s);
}

send_queue::segment send_queue::fresh_segment() {
  segment s;
  if (!spare_.empty()) {
    s.bytes = std::move(spare_.back());
    spare_.pop_back();
  } else {
    s.bytes.reserve(segment_capacity);
  }
  return s;
}

void send_queue::release(segment& s) noexcept {
  if (s.item) {
    outbound_item::destroy(s.item);
    s.item = nullptr;
  } else if (spare_.size() < max_spare_segments && s.bytes.capacity() >= segment_capacity) {
    // Keep a few buffers: a busy connection then allocates nothing per batch.
    s.bytes.clear();
    spare_.push_back(std::move(s.bytes));
  }
}

void send_queue::push_control(std::span<const std::byte> bytes) {
  control_.insert(control_.end(), bytes.begin(), bytes.end());
}

void send_queue::push_control_after_user(std::span<const std::byte> bytes) {
  segment s;
  s.bytes.assign(bytes);
  queue_.push_back(std::move(s));
}

void send_queue::push_user(outbound_item* item) {
  item_releaser releaser;
  push_user(item, releaser);
}

void send_queue::push_user(outbound_item* item, item_releaser& releaser) {
  if (item->size > coalesce_limit) {
    segment s;
    s.item = item;
    s.frames = item->frames;
    s.user_bytes = item->size;
    queue_.push_back(std::move(s));
    return;
  }
  // A segment of a large frame, of a control frame (its capacity is its
  // size), or a full one takes no more: a fresh segment does.
  segment* s = queue_.empty() ? nullptr : &queue_.back();
  if (s == nullptr || s->item || s->bytes.capacity() < segment_capacity ||
      s->bytes.size() + item->size > segment_capacity) {
    queue_.push_back(fresh_segment());
    s = &queue_.back();
  }
  s->bytes.append(item->bytes());
  s->frames += item->frames;
  s->user_bytes += item->size;
  releaser.release(item);
}

msghdr* send_queue::prepare(bool allow_user) {
  if (in_flight()) return nullptr;
  if (!control_.empty()) {
    control_in_flight_.swap(control_);
    control_.clear();
    iov_.push_back({control_in_flight_.data(), control_in_flight_.size()});
  }
  std::size_t batch = 0;
  while (allow_user && !queue_.empty() && iov_.size() < max_iovecs && batch < max_batch_bytes) {
    in_flight_.push_back(std::move(queue_.front()));
    queue_.pop_front();
    auto v = in_flight_.back().view();
    batch += v.size();
    iov_.push_back({const_cast<std::byte*>(v.data()), v.size()});  // sendmsg only reads
  }
  if (iov_.empty()) return nullptr;
  iov_at_ = 0;
  written_ = 0;
  msg_ = {};
  msg_.msg_iov = iov_.data();
  msg_.msg_iovlen = iov_.size();
  return &msg_;
}

bool send_queue::complete(std::size_t n) {
  written_ += n;
  // Skip the iovecs the kernel took whole; trim the one it took in part.
  while (n > 0 && iov_at_ < iov_.size()) {
    iovec& v = iov_[iov_at_];
    if (n >= v.iov_len) {
      n -= v.iov_len;
      ++iov_at_;
    } else {
      v.iov_base = static_cast<char*>(v.iov_base) + n;
      v.iov_len -= n;
      n = 0;
    }
  }
  if (iov_at_ < iov_.size()) {
    msg_.msg_iov = iov_.data() + iov_at_;
    msg_.msg_iovlen = iov_.size() - iov_at_;
    return false;
  }
  done_frames_ = 0;
  done_bytes_ = 0;
  for (auto& s : in_flight_) {
    done_frames_ += s.frames;
    done_bytes_ += s.user_bytes;
    release(s);
  }
  forget_batch();
  return true;
}

void send_queue::forget_batch() noexcept {
  in_flight_.clear();  // its segments released by the caller
  control_in_flight_.clear();
  iov_.clear();
  iov_at_ = 0;
  written_ = 0;
}

void send_queue::drop_queued(const std::function<void(const frame&)>& each, std::size_t& frames,
                             std::size_t& bytes) {
  for (auto& s : queue_) {
    frames += s.frames;
    bytes += s.user_bytes;
    if (s.frames && each) {
      // Our own encoding: parses cleanly. Large limits: the sender already
      // validated against the configured ones.
      std::span<const std::byte> rest = s.view();
      frame_limits any{~std::size_t{0} >> 1, ~std::size_t{0} >> 1};
      while (!rest.empty()) {
        parse_result r = parse_frame(rest, any);
        if (r.consumed == 0) break;
        if (r.value.kind != frame_kind::close) each(r.value);
        rest = rest.subspan(r.consumed);
      }
    }
    release(s);
  }
  queue_.clear();
}

void send_queue::move_queued_to(send_queue& to, std::size_t& frames, std::size_t& bytes) {
  for (auto& s : queue_) {
    if (s.frames == 0) {  // a close frame queued behind user frames: not theirs to carry
      release(s);
      continue;
    }
    frames += s.frames;
    bytes += s.user_bytes;
    to.queue_.push_back(std::move(s));
  }
  queue_.clear();
}

send_queue::split send_queue::fail_in_flight(const std::function<void(const frame&)>& each) {
  split out;
  std::size_t at = control_in_flight_.size();  // the batch's offset: control bytes first
  const frame_limits any{~std::size_t{0} >> 1, ~std::size_t{0} >> 1};  // our own encoding
  for (auto& s : in_flight_) {
    std::span<const std::byte> rest = s.view();
    const std::size_t end = at + rest.size();
    if (s.frames == 0 || end <= written_) {  // a close frame, or user frames all in the socket
      out.unknown_frames += s.frames;
      out.unknown_bytes += s.user_bytes;
      at = end;
    } else {
      while (!rest.empty()) {  // frame by frame: the write may have stopped inside this segment
        parse_result r = parse_frame(rest, any);
        if (r.consumed == 0) break;
        if (at < written_) {
          ++out.unknown_frames;
          out.unknown_bytes += r.consumed;
        } else {
          ++out.unwritten_frames;
          out.unwritten_bytes += r.consumed;
          if (each) each(r.value);
        }
        at += r.consumed;
        rest = rest.subspan(r.consumed);
      }
    }
    release(s);
  }
  forget_batch();
  return out;
}

void send_queue::abandon_in_flight(std::size_t& frames, std::size_t& bytes) {
  for (auto& s : in_flight_) {
    frames += s.frames;
    bytes += s.user_bytes;
    release(s);
  }
  forget_batch();
}

}  // namespace volley::remote::detail
