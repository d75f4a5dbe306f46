// Staged sends: how a streaming thread hands its frames to the transport's
// loop a chain at a time (send(), here, calls send_staged).
//
// A sending thread links its frames for one connection into a chain of its
// own (send_stage) and pushes the chain onto the inbox with one exchange,
// reserving the connection's outbound bound for up to send_stage::max_frames
// frames at once: per frame, no atomic read-modify-write (the exchange and
// the reservation each drained the store buffer behind the item just
// written: ~6% of the one-way profile together).
//
// When a chain is pushed: when it is full (frames, bytes or credit), when
// the thread sends to another connection, when a frame is not a tell (asks,
// replies, watches go at once), when any thread sends a command
// (disconnect, reset: every chain is swept first), when the activation that
// staged it ends (below), at thread exit, and at once when it starts while
// the loop sleeps or more than stream_gap after the thread's last push (one
// tell now and then, a reply in a round trip, is not delayed).
//
// Waking the loop: a push while the loop sleeps writes its eventfd, except
// when the loop sleeps on a sendmsg in flight to the chain's own connection
// (sleep_ends_with_, set by turn_sleep): that write's completion ends the
// sleep, and the chain's frames could not be written before it anyway. Nor
// does such a sleep push a new chain at once. A stream paced by its peer's
// reads then wakes the loop only by its completions, each of which sends
// all that piled up meanwhile: remote_bench one-way, eventfd writes ~1 per
// 570 frames -> ~0.01 per 1000, the process's context switches ~4x fewer.
// The bound above holds: the loop wakes at the completion, then sleeps at
// most stage_idle while a chain is staged. A chain for any other connection
// wakes it as before (transport_staged_send_test: an idle peer's frame is
// not held behind a sendmsg to a peer that has stopped reading).
// So a chain waits only behind a thread that was streaming a moment ago; if
// that thread stops, the loop takes the chain itself (a sweep) once it has
// seen no frame added to it for stage_idle, and sleeps no longer than that
// while a chain is staged: a frame waits at most ~2 x stage_idle.
//
// Who may touch a chain: the owner between handshake.enter() and leave(), a
// sweeper (the loop, disconnect() or reset() on any thread, stop() after
// the loop is gone) inside the handshake's sweep(): Dekker's handshake with
// an asymmetric fence (membarrier), argued in stage_handshake.hpp and
// checked under every schedule by tests/checker/staged_send_checker_test.cpp.
// Without membarrier (old kernels, seccomp) every send goes to the inbox at
// once, as before.
//
// Order: a chain is pushed whole, in order, and a thread's chain is pushed
// before anything it sends later (its later frames start a new chain after
// the push); a sweep pushes the chain behind the thread's earlier pushes,
// which the handshake orders before it. So each thread's frames reach the
// inbox in the order it sent them, as before. A command (disconnect,
// reset) sweeps every thread's chain before it is pushed, so no frame whose
// send() returned before the command was called comes after it (and is
// counted undelivered by the close the command makes).
//
// An actor's order. A stage is the thread's, but the order promised is per
// sending actor, and an actor moves between threads between activations:
// a steal, the scheduler's hand-back rule, a batch taken from the injection
// queue, a co_await or a supervisor's directive that resumes it wherever
// its next message is picked up, and a node's loop that ran it inline
// (node_config::inline_handlers) and left the rest of its mailbox to a
// worker. Had its earlier tells stayed in thread 1's chain while its later
// ones were pushed from thread 2, they would be overtaken (remote_assoc_test
// caught a relay's replies so, next 1266 of 2000 under ASan). So when a
// chain starts staged, send_staged asks the engine to call
// flush_at_end_of_activation on this thread when its activation ends
// (volley/engine/detail/activation_flush.hpp), and run_activation calls it
// before it gives the cell up every way it can: the budget spent (the
// caller requeues the cell), park() (a handler suspended in co_await, or a
// failed actor waiting for its supervisor; a resume or directive comes as a
// system message and may be run anywhere), and mark_empty() (idle; a stop
// and post_stop end this way too). Before those the cell is this thread's
// alone, so nothing of the actor's can be sent elsewhere; the push (an
// exchange on the inbox) precedes the release the cell's hand-off makes, so
// the next thread's later push follows it in the inbox. Stash and unstash
// reorder the actor's own mailbox inside one activation and move nothing.
// A plain thread runs no activation and carries no actor: its request stays
// unused and its chains go as above. Asks and replies are never staged, and
// a direct write (transport_direct.cpp) needs the link's queued count at 0,
// which a staged chain's credit keeps above it. Cost: one thread-local store
// per staged chain; at the activation's end one load, and, when something
// was staged, one call that pushes the thread's chains (~1 per 32 tells in
// a stream). Checked: tests/remote/staged_send_order_test.cpp moves a
// sender between two threads each burst, between the loop and a worker, and
// between workers. The rule from before 88cbd39 (a chain staged past its
// activation) is kept there as a known-bad variant, and each case catches
// it (the stress case in most runs). 88cbd39's rule (a worker pushes every
// frame at once) did not cover the loop's inline turns: the first two cases
// catch it.
//
// Runs: a chain's tells for one connection are encoded back to back into
// its last item, grown in place in the thread's chunk (outbound_item::grow)
// up to outbound_item::max_run_bytes, instead of one item each. The loop
// then pops, looks up, copies into a segment and releases one item per
// ~16 one-way tells instead of per tell: A's loop went from 145 to 41
// instructions a message (callgrind, remote_bench one-way, stream_gap
// raised so that chains stage under valgrind's slowdown; the sending
// thread 569 -> 581: grow() costs what make() did, and the run's checks
// 12 more), and the sender writes 62 bytes a tell where it wrote 104 (an
// item header of 40 each), lines that A's loop then reads from the other
// core. Natively (remote_bench one-way, 2-core VM at load 7-9 from other
// builds, 9 interleaved pairs in one binary, --no-runs the other side) the
// process's CPU per message fell by a median 8.5% a pair, and A's loop's
// user time from 15-19 to 9-10 ns a message (its sendmsg's kernel time is
// the rest). The bytes on the wire are the same. Every path that dead-letters
// an item goes frame by frame (for_each_frame), and the counts
// (frames_queued, link credit, segment frames) are per frame, as before.
//
// One call a tell: send() lives here, not in transport.cpp, so that
// send_staged, stage_for_this_thread and outbound_item::grow inline into
// it, and the node's side (node_core::send, the transport claim, validate's
// case for a proxy's frame) is inline in its headers. Between them the
// layers' calls were ~115 of the sending thread's 581 instructions a tell
// (callgrind, remote_bench one-way; 466 after).
//
// Accounting: a staged frame is counted in frames_queued at send, as before,
// but by its stage's `appended` (which the sweeper's idle check already
// needed), not by a second count: stats() adds up the `appended` of every
// stage in stages_ and of those let go (retired_appended_), under
// stages_mutex_, so a stage is in exactly one of the two at each read. A
// stage is let go only once its count is final: its thread has exited
// (sweep_stages), or stop() has detached it. The striped bump was ~11 of
// the sending thread's ~466 instructions a tell (callgrind, remote_bench
// one-way). The credit not used by a chain is given back when the chain is
// pushed, so the link's count is exact again once nothing is staged, and
// the bound is never passed (credit counts as queued; when a batch's credit
// does not fit, one frame is reserved alone).
#include "transport_impl.hpp"

#include <volley/engine/ask.hpp>  // on_worker_thread
#include <volley/engine/detail/activation_flush.hpp>

#include <algorithm>
#include <thread>

namespace volley::remote {

namespace detail {
/// Tests only (transport_staged_send_test.cpp): 0 is the rule above; 1 and 2
/// are the known-bad variants its cases must catch (sleep_ends_for).
std::atomic<int> stream_wake_variant{0};
/// Tests only (staged_send_order_test.cpp): 0 is the rule ("An actor's
/// order"); 1 the known-bad rule before 88cbd39, which asked for no flush at
/// the end of an activation.
std::atomic<int> activation_flush_variant{0};
/// Measurement only (remote_bench --no-runs): 0 is the rule ("Runs"); 1
/// puts every frame in an item of its own, as before runs, so that one
/// binary runs both sides of an A/B.
std::atomic<int> run_variant{0};
}  // namespace detail

namespace {

/// A chain whose owner has added nothing to it for this long is swept by the
/// loop. 50 us: the order of a worker's spin before it parks, well under the
/// RTT a one-off tell would see (a tell that is not part of a stream is
/// never staged); a stream adds a frame every ~0.1 us.
constexpr std::chrono::microseconds stage_idle{50};
/// A chain starts staged only this soon after the thread's last push: in a
/// stream the next frame follows a push by ~0.1 us; a round trip's next
/// tell comes >= 10 us later (remote_bench's RTTs), and goes at once.
constexpr std::chrono::microseconds stream_gap{2};

/// The stage of the transport this thread sent to last (serial 0: none),
/// so a stream to one transport skips the list and its thread_local guard
/// (stage_for_this_thread was 32 instructions a send, callgrind, remote_bench
/// one-way). Trivially constructed and destroyed, so reading it is one
/// thread-pointer load. The pointer stays valid while the list holds the
/// stage: it is reset wherever the list lets stages go (a miss, thread exit).
struct last_stage {
  std::uint64_t serial = 0;
  send_stage* stage = nullptr;
};
constinit thread_local last_stage this_thread_last{};

/// This thread's stages, one per transport it sent to (by serial). Their
/// chains are pushed at thread exit.
struct thread_stages {
  struct entry {
    std::uint64_t serial;
    transport::impl* owner;  ///< valid while the stage is not detached
    std::shared_ptr<send_stage> stage;
  };
  std::vector<entry> list;

  thread_stages() = default;
  thread_stages(const thread_stages&) = delete;
  thread_stages& operator=(const thread_stages&) = delete;
  ~thread_stages() {
    this_thread_last = {};
    volley::detail::flush_at_activation_end(nullptr);  // nothing left to flush
    flush_all();
  }

  /// Pushes every chain this thread has staged (each under its handshake).
  void flush_all() noexcept {
    for (auto& e : list) {
      send_stage& s = *e.stage;
      s.handshake.enter();
      if (!s.detached) e.owner->flush_stage(s);
      s.handshake.leave();
    }
  }
};
thread_local thread_stages this_thread_stages;

/// The link a thread sent to last. A stream of sends to one connection (a
/// proxy's worker, a benchmark's sender) skips the shared lock and the map
/// lookup: the read-write lock's two RMWs on a line every sender shares were
/// 9% of the sending thread's one-way profile (perf, remote_transport_bench).
/// What it keeps alive past its connection or transport is one link_shared
/// (16 B; one 32 B allocation with its control block) per thread, and only
/// until the thread's next send of any kind: a stale entry is let go before
/// the lookup, so a send that finds nothing (a gone connection, a
/// transport's last send) does not keep it.
struct cached_link {
  std::uint64_t serial = 0;  // transport::impl::serial_; 0: empty
  connection_id id = 0;
  std::shared_ptr<detail::link_shared> link;
};
thread_local cached_link this_thread_link;

/// Called by the engine on this thread when the activation running here
/// ends, before its cell may reach another thread: every chain the thread
/// staged is pushed, under the handshake, as a thread's exit pushes them.
void flush_at_end_of_activation() noexcept {
  this_thread_stages.flush_all();
}

}  // namespace

[[gnu::always_inline]] inline send_stage* transport::impl::stage_for_this_thread() {
  const last_stage& last = this_thread_last;
  if (last.serial == serial_) [[likely]]
    return last.stage;
  return list_stage_for_this_thread();
}

send_stage* transport::impl::list_stage_for_this_thread() {
  last_stage& last = this_thread_last;
  auto& list = this_thread_stages.list;
  for (auto& e : list) {
    if (e.serial == serial_) {
      last = {serial_, e.stage.get()};
      return last.stage;
    }
  }
  // New here: let go of the stages of transports that are gone (detached
  // under the handshake, so read under it).
  last = {};
  std::erase_if(list, [](thread_stages::entry& e) {
    e.stage->handshake.enter();
    bool gone = e.stage->detached;
    e.stage->handshake.leave();
    return gone;
  });
  auto s = std::make_shared<send_stage>();
  {
    volley::detail::lock_guard lock(stages_mutex_);
    if (stages_closed_) return nullptr;  // stop() has swept: it would never see this one
    stages_.push_back(s);
  }
  list.push_back({serial_, this, s});
  last = {serial_, s.get()};
  return s.get();
}

// Here rather than in transport.cpp: send_staged, stage_for_this_thread
// and outbound_item::grow inline into it; a staged tell makes one call from
// here (encode_exact) where it made four.
send_result transport::impl::send(connection_id id, const frame& f, path_check paths) {
  if (stopping_.load(std::memory_order_relaxed)) return send_result::stopped;
  std::size_t size = 0;  // validated and sized in one pass over the frame
  if (validate(f, cfg_.limits, size, paths) != decode_error::none)
    return send_result::invalid_frame;
  cached_link& cache = this_thread_link;
  if (cache.serial != serial_ || cache.id != id ||
      cache.link->gone.load(std::memory_order_relaxed)) {
    cache = {};  // stale: freed now if it was the last owner, whatever the lookup finds
    volley::detail::shared_lock lock(links_mutex_);
    auto it = links_.find(id);
    if (it == links_.end()) return send_result::unknown_connection;
    cache.link = it->second;
    cache.serial = serial_;
    cache.id = id;
  }
  detail::link_shared& link = *cache.link;
  // Acquire: pairs with become_up's release, so a frame stamped with the
  // new epoch was sent after the new incarnation was up.
  std::uint32_t epoch = link.epoch.load(std::memory_order_acquire);
  // An ask or a reply on an idle connection: its thread writes it; on a
  // busy-polling node only a plain thread's ask (transport_direct.cpp).
  // The kind first: a tell reads no more of it.
  if ((f.kind == frame_kind::ask_request || f.kind == frame_kind::ask_reply ||
       f.kind == frame_kind::ask_failure) &&
      cfg_.direct_writes &&
      (!cfg_.busy_poll ||
       (f.kind == frame_kind::ask_request && !volley::detail::on_worker_thread())) &&
      write_directly(f, size, epoch, link))
    return send_result::queued;
  if (detail::asymmetric_fence()) return send_staged(id, f, size, epoch, cache.link);
  // Reserve first, undo on overflow: the bound holds however many threads race.
  if (!link.reserve(size, cfg_.max_queued_frames, cfg_.max_queued_bytes))
    return send_result::queue_full;
  auto* item =
      outbound_item::make(outbound_item::type::frame, id, static_cast<std::uint32_t>(size));
  item->epoch = epoch;
  encode_exact(f, {item->data(), size});
  // Counted before the loop can see it, so queued >= sent + undelivered +
  // fate unknown holds at every instant, with equality once the queue drains.
  frames_queued_.add();
  push(item);
  return send_result::queued;
}

[[gnu::always_inline]] inline send_result transport::impl::send_staged(
    connection_id id, const frame& f, std::size_t size, std::uint32_t epoch,
    const std::shared_ptr<detail::link_shared>& link) {
  send_stage* staged = stage_for_this_thread();
  if (staged == nullptr) return send_result::stopped;
  send_stage& s = *staged;
  s.handshake.enter();
  struct leave {
    send_stage& s;
    ~leave() { s.handshake.leave(); }
  } leave_on_return{s};
  if (s.detached) return send_result::stopped;
  if (s.frames != 0 && (s.id != id || s.credit_frames == 0 || s.credit_bytes < size))
    flush_stage(s);
  if (s.frames == 0) {
    // Credit left by a send that threw (bad_alloc) after reserving.
    if (s.credit_frames != 0 || s.credit_bytes != 0) {
      s.link->release(s.credit_frames, s.credit_bytes);
      s.credit_frames = s.credit_bytes = 0;
    }
    if (s.link != link) s.link = link;
    s.id = id;
    // A batch's credit, or this frame's alone when the batch does not fit.
    if (size <= send_stage::max_bytes &&
        link->reserve(send_stage::max_bytes, cfg_.max_queued_frames, cfg_.max_queued_bytes,
                      send_stage::max_frames)) {
      s.credit_frames = send_stage::max_frames;
      s.credit_bytes = send_stage::max_bytes;
    } else if (link->reserve(size, cfg_.max_queued_frames, cfg_.max_queued_bytes)) {
      s.credit_frames = 1;
      s.credit_bytes = size;
    } else {
      return send_result::queue_full;
    }
  }
  // A tell joins the chain's last item when it can ("Runs" above): that
  // item holds only tells, for this connection (a chain is pushed when the
  // thread sends elsewhere, and at once after any other kind of frame).
  const auto n = static_cast<std::uint32_t>(size);
  outbound_item* run = s.last;
  if (run != nullptr && f.kind == frame_kind::message && run->epoch == epoch &&
      run->size + n <= outbound_item::max_run_bytes &&
      detail::run_variant.load(std::memory_order_relaxed) == 0 && run->grow(n)) {
    encode_exact(f, {run->data() + (run->size - n), size});
    run->frames += 1;
  } else {
    auto* item = outbound_item::make(outbound_item::type::frame, id, n);
    item->epoch = epoch;
    encode_exact(f, {item->data(), size});
    if (s.first == nullptr) {
      s.first = item;
    } else {
      s.last->next.store(item, std::memory_order_relaxed);  // published by the chain's push
    }
    s.last = item;
  }
  s.credit_frames -= 1;
  s.credit_bytes -= size;
  ++s.frames;
  // Counts the frame in frames_queued ("Accounting"), before the loop can
  // see it, as in send(); relaxed: a statistic, as frames_queued_ is.
  s.appended.store(s.appended.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  bool now = f.kind != frame_kind::message || s.credit_frames == 0;
  if (s.frames == 1) {
    // seq_cst, then the seq_cst load of sleeping_: store-buffering with
    // turn_sleep, which stores sleeping_ and then loads this count, so
    // either the loop sees the chain (and sleeps at most stage_idle) or
    // this thread sees it asleep and pushes now.
    staged_chains_.fetch_add(1, std::memory_order_seq_cst);
    now = now || (sleeping_.load(std::memory_order_seq_cst) && !sleep_ends_for(id)) ||
          steady_clock::now() - s.flushed_at > stream_gap;
  }
  if (now) {
    flush_stage(s);
  } else if (s.frames == 1 &&
             detail::activation_flush_variant.load(std::memory_order_relaxed) == 0) {
    // A chain starts staged: pushed when this thread's activation ends, if
    // it runs one ("An actor's order" above).
    volley::detail::flush_at_activation_end(&flush_at_end_of_activation);
  }
  return send_result::queued;
}

void transport::impl::flush_stage(send_stage& s) {
  if (s.frames == 0) return;
  if (s.credit_frames != 0 || s.credit_bytes != 0) s.link->release(s.credit_frames, s.credit_bytes);
  outbound_item* first = s.first;
  outbound_item* last = s.last;
  s.flushed_at = steady_clock::now();
  s.first = s.last = nullptr;
  s.frames = 0;
  s.credit_frames = s.credit_bytes = 0;
  staged_chains_.fetch_sub(1, std::memory_order_relaxed);
  inbox_.push_chain(first, last);
  // As in push(): seq_cst after the seq_cst exchange ("Sleep/wake"); but a
  // loop asleep on this connection's sendmsg needs no eventfd write.
  if (sleeping_.load(std::memory_order_seq_cst) && !sleep_ends_for(s.id) &&
      sleeping_.exchange(false, std::memory_order_seq_cst))
    wake();
}

bool transport::impl::sleep_ends_for(connection_id id) const noexcept {
  // After a seq_cst load of sleeping_ that read true: the loop wrote this
  // before that store (or later, once awake: it then drains the inbox before
  // it sleeps again). Relaxed: the load of sleeping_ acquired it.
  connection_id ends_with = sleep_ends_with_.load(std::memory_order_relaxed);
  switch (detail::stream_wake_variant.load(std::memory_order_relaxed)) {
    case 1:
      return ends_with != 0;  // known-bad: strands another connection's frame
    case 2:
      return false;  // known-bad: an eventfd write per chain while a write is in flight
    default:
      return ends_with == id;
  }
}

void transport::impl::flush_all_stages() {
  std::vector<std::shared_ptr<send_stage>> stages;
  {
    volley::detail::lock_guard lock(stages_mutex_);
    if (stages_closed_) return;  // stop() has swept them
    stages = stages_;
  }
  sweep_each(std::move(stages), false);
}

bool transport::impl::sweep(std::vector<std::shared_ptr<send_stage>>& stages, bool at_stop,
                            std::vector<send_stage*>* taken) {
  return decltype(send_stage::handshake)::sweep(stages, [&](send_stage& s) {
    flush_stage(s);  // at stop: the inbox's leftovers are reported by stop()
    if (at_stop) s.detached = true;
    if (taken) taken->push_back(&s);
  });
}

void transport::impl::sweep_each(std::vector<std::shared_ptr<send_stage>> stages, bool at_stop) {
  std::vector<send_stage*> taken;
  while (!sweep(stages, at_stop, &taken)) {
    // An owner mid-send is out within one send: only the others wait.
    std::erase_if(stages, [&](const std::shared_ptr<send_stage>& s) {
      return std::find(taken.begin(), taken.end(), s.get()) != taken.end();
    });
    taken.clear();
    std::this_thread::yield();
  }
}

bool transport::impl::sweep_stages(steady_clock::time_point now) {
  if (staged_chains_.load(std::memory_order_relaxed) == 0 || now < next_stage_check_) return false;
  next_stage_check_ = now + stage_idle / 2;
  std::vector<std::shared_ptr<send_stage>>& due = stages_due_;
  due.clear();
  {
    volley::detail::lock_guard lock(stages_mutex_);
    // A stage only this list holds has lost its thread, which pushed its
    // chain: its count is final, and moves to the retired sum (through a
    // local: -Wthread-safety does not see that the lambda runs under the lock).
    std::uint64_t retired = 0;
    auto gone = std::remove_if(stages_.begin(), stages_.end(), [&](const auto& s) {
      if (s.use_count() != 1) return false;
      // use_count() is a relaxed load; it read the thread's release
      // decrement, so this fence makes the thread's last `appended` store
      // visible to the read below (the count is final only with it).
      std::atomic_thread_fence(std::memory_order_acquire);
      retired += s->appended.load(std::memory_order_relaxed);
      return true;
    });
    stages_.erase(gone, stages_.end());
    retired_appended_ += retired;
    for (auto& s : stages_) {
      std::uint64_t a = s->appended.load(std::memory_order_relaxed);
      if (a != s->seen_appended) {
        s->seen_appended = a;
        s->seen_at = now;
      } else if (now - s->seen_at >= stage_idle && a != s->swept_appended) {
        due.push_back(s);
      }
    }
  }
  if (due.empty()) return false;
  if (sweep(due, false)) {
    for (auto& s : due) s->swept_appended = s->seen_appended;
  }
  due.clear();
  return true;
}

std::uint64_t transport::impl::staged_frames_queued() const {
  volley::detail::lock_guard lock(stages_mutex_);
  std::uint64_t n = retired_appended_;
  for (const auto& s : stages_) n += s->appended.load(std::memory_order_relaxed);
  return n;
}

/// How long the loop may sleep: while a chain is staged, no longer than a
/// sweep's wait (see above).
steady_clock::duration transport::impl::max_sleep() const noexcept {
  if (staged_chains_.load(std::memory_order_seq_cst) != 0) return stage_idle;
  return steady_clock::duration::max();
}

}  // namespace volley::remote
