// The transport's event loop: one thread, one io_uring ring, every
// connection. The connection state machine it drives is in
// transport_connection.cpp; the sender-facing side in transport.cpp and
// transport_stage.cpp.
//
// A turn: reap completions -> hand what they brought to the node (on_batch_end:
// one chain per actor, and with inline handlers the actors' turns, whose
// replies land in the inbox) -> drain the inbox (frames and commands from other
// threads) -> timers (heartbeats, failure detection, reconnects, handshake and
// linger deadlines, the accept pause) -> one sendmsg per dirty connection ->
// give receive buffers back to the kernel -> submit, and either go round again
// at once (there was work, or busy_poll) or sleep in io_uring_enter until a
// completion or the next timer deadline.
//
// Receiving: one multishot recv per connection draws from a shared ring of
// provided buffers. Each completion's bytes go through the connection's
// decoder at once and the buffer is handed back the same turn, so the ring
// only runs dry under a flood; the kernel then ends the multishot with
// ENOBUFS and we re-arm it, as we do whenever a completion lacks F_MORE.
//
// Sleep/wake: the loop sets `sleeping_` (seq_cst), then checks the inbox
// (seq_cst load of its tail); a producer pushes (seq_cst exchange of the tail),
// then checks `sleeping_` (seq_cst) and, only if set, claims it and writes the
// eventfd on which the loop always has a read armed. This is the
// store-buffering pattern: with all four accesses seq_cst at least one side
// sees the other's store, so no item is left behind by a sleeping loop, and a
// producer makes no syscall while the loop is awake.
//
// Busy-poll (transport_settings::busy_poll): a turn that finds nothing to do
// does not sleep while the node has an established connection and traffic
// came within busy_poll_idle (poll_until_): poll_idle() looks, a yield and an
// io_uring_enter that runs the ring's deferred task work without waiting, at
// a time, until a completion, a push onto the inbox, a due timer or sweep, or
// a stop; the loop then takes a turn. Traffic is a user frame handed to the
// node or anything taken from the inbox; heartbeats are not, so a node that
// only keeps its links alive stops polling. When busy_poll_idle passes
// without traffic the poll rests: the loop sleeps through turn_sleep, whose
// handshake is the one that matters here. A producer that pushed while the
// loop polled read `sleeping_` as false and wrote no eventfd; the loop's
// seq_cst check of the inbox after its seq_cst store of `sleeping_` sees that
// push, so a frame pushed at the moment the poll ends is sent at once (a
// rest that slept without the check would leave it for the idle tick:
// busy_poll_test catches that variant). Bounded, so that an idle node does
// not hold a core forever; polling is opt-in, so the core it holds while
// traffic flows is what the user asked for.
//
// Lifetimes: a CQE's user_data is a connection pointer tagged with the op in
// its low bits. A connection counts its SQEs in flight (`ops`); closing it
// shuts the socket down and cancels its ops, and the object is destroyed (or,
// when outbound, reset for a reconnect) only at the end of a turn in which
// `ops` is 0, so no completion can name a dead connection.
//
// Where the time goes (one-way, perf record -g at 4 kHz, Release, this 2-core
// VM at load 13-17; bench/remote/remote_transport_bench 4000000 1000 volley
// --only=o, then remote_bench 2000000 100 volley --no-tls for the node path):
//
//   transport only, before this round (218 CPU-ns/msg): the sending thread
//   took 45% of the samples (send() 14% self: the link reservation's two
//   RMWs and frames_queued_, whose line the loop rewrote every turn; the
//   links_ read-write lock 9%; encode 6%; the inbox push 3%), the sending
//   loop 30% (releasing items 5%: the chunk counter shared a line with the
//   producer's bump offset; the kernel's copy 4%; coalescing 3%), the
//   receiving loop 26% (parse_frame 15%: byte-at-a-time little-endian loops
//   GCC kept as loops; the kernel's copy 4%). Fixed: a per-thread cached
//   link (no lock), counters on their own lines, one release per run of
//   items (item_releaser), memcpy loads; after: ~130 CPU-ns/msg.
//   What is left per frame is inherent to a hand-off: one exchange on the
//   inbox tail, the item's cache line moving to the loop, two copies (into
//   the batch, into the socket) and the parse.
//
//   node to node (tell -> proxy -> frame -> ... -> envelope -> actor, ~450-
//   620 CPU-ns/msg): the receiving loop 27% (the target mailbox's exchange
//   in cell_base::deliver 9%: a cache-line transfer per message to the
//   worker draining it; deserialise + envelope 4%; the access check and
//   path cache 2%; the transport's part 2%), the proxy's worker 19% (the
//   transport send 5%; node_core::send's shared lock 3%), the sender's tell
//   into the proxy 9%, the receiving worker 10%, the sending loop 9%. The
//   next step is the engine's: a batch of envelopes linked once and pushed
//   with one exchange per wake-up, not one per frame.
//
//   node to node again after the lock-free claim (remote_bench 2000000 10
//   volley --no-tls, Release, load ~12, 550-580 CPU-ns/msg, perf record -g
//   at 2 kHz, split by thread): B's loop 31% (envelope_alloc 3.3%,
//   deliver_tell 2.8%, resolve's path-cache lookup 2.0%: a std::string key
//   made per frame, the kernel's copy 2.1%, the rest spread thin), A's
//   proxy worker 20% (run_activation 9.6%: popping a mailbox that the
//   sending thread fills one exchange at a time; transport send 6.3%;
//   forward 3.0%; the claim 0.4%, where the shared lock was 3.5%), A's loop
//   18% (the batch copy and the kernel's copy), B's receiving worker 17%
//   (the handler 2.8%, envelope_free 2.4%), the sending thread 12% (its
//   tell into the proxy: cell_base::deliver 10.5%, the exchange on the
//   mailbox tail whose line the proxy's worker keeps taking). So of the
//   ~550 CPU-ns a message costs, ~60% is the engine's two mailbox hand-offs
//   (tell -> proxy, loop -> actor: exchange, envelope alloc/free, the
//   worker's activation), ~25% the two loops, ~15% serialising and the
//   frame send. Batching the loop -> actor hand-off (one chain per receive
//   buffer, one exchange and at most one wake-up) is the next step, and
//   needs an engine entry point.
//
//   session 5, the two hand-offs cut (A/B/C in one interleaved run, 3
//   rounds, load 11-17, bench preset: 8a485f8 / direct tells / direct
//   tells + chains; remote_bench 1000000 10 volley --no-tls under perf
//   stat): a tell to a remote ref is serialised on the sender's thread
//   (proxy.cpp; no proxy mailbox, activation or wake-up), and the loop
//   hands each actor a turn's tells as one chain (node_core::batch,
//   cell_base::deliver_chain). One-way median 0.79 -> 0.87 -> 1.32 M msg/s,
//   CPU 440 -> 402 -> 314 ns/msg (-29%). Where the ~310 CPU-ns go now
//   (perf record at 2 kHz, all threads): B's loop ~35% (deliver_tell 8.5%,
//   the path cache 6.4%: resolve() and its string_view hash, ref_base::
//   drop 2.8%: resolve() and sender_of() return refs by value, two counted
//   copies per frame; parse 2.8%, envelope_local 1.9%), the sending thread
//   ~25% (transport send 8%, forward 3.4%, validate + encoded_size + encode
//   4%, the inbox push 1.8%), the copies (memmove 5%, the kernel's copy in
//   and out 5.4%), the receiving handler 3.8%. Next: resolve() handing out
//   the cached ref without a counted copy, and validate/encoded_size once
//   per frame instead of twice.
//
//   RTT (remote_bench 1 20000 volley --no-tls, p50 30 us against 6-7 us for
//   raw blocking TCP, same run): perf stat counts ~10 context switches per
//   round trip (raw: 2). An ask crosses seven threads: asker -> A's worker
//   (futex wake) -> A's loop (eventfd) -> B's loop (socket completion) ->
//   B's worker (futex) -> B's loop (eventfd, the reply) -> A's loop (socket)
//   -> the asker (the future's wake). Each hand-off to a sleeping thread
//   costs a wake-up and a context switch, ~3-4 us on this VM; the profile
//   of the RTT run is the workers' spin before parking (worker_pool::run,
//   next_local, steal, sched_yield: ~40% of samples) and the scheduler
//   (finish_task_switch, futex/eventfd wake paths: ~35%). Per-frame
//   allocation and cell_base::deliver's atomics do not show (<1%). What
//   would remove hops: the loop running the target actor's handler inline
//   when no worker is awake (B's worker hop and its reply hop), and the
//   reply written from the worker that completes the ask straight into a
//   spinning loop (no eventfd); both need scheduler entry points.
//   Session 5: the asker now serialises and queues the ask itself, so A's
//   worker hop is gone (six threads): same run as above, remote_bench 1
//   5000, p50 28.6 -> 25.0 us (raw blocking 5.4 us: 5.3x -> 4.6x), busy-
//   poll p50 43.9 -> 29.1 us (raw busy-poll 6.6 us: 6.7x -> 4.4x), context
//   switches per round trip 5.3 -> 4.6 (perf stat over both modes).
//   Session 6 (remote_bench 1000 3000 all --no-tls, bench preset, 52ae0d9,
//   load 5-7, medians of 3-5 interleaved runs): RTT p50 24.3 us against raw
//   blocking 5.7 us (4.3x), busy-poll 28.7 us against raw busy-poll 6.5 us
//   (4.4x). perf sched timehist shows six wake-ups per round trip in the
//   default mode, in this order: asker -> A's loop (eventfd), A's loop ->
//   B's loop (socket), B's loop -> B's worker, B's worker -> B's loop
//   (eventfd, the reply), B's loop -> A's loop (socket), A's loop -> asker;
//   raw blocking has two. With the whole process on one CPU (taskset -c 0)
//   volley's p50 stays 23.2-24.0 us and raw's 5.6 us: what costs is the
//   number of hand-offs (~2.8 us a switch here, raw's RTT / 2), not which
//   CPUs they cross. Busy-poll on A removes only the first wake; B's three
//   remain. Tried and not kept (same runs): keeping the loop turning (with
//   sched_yield) for W us after a turn with work, so that a reply pushed
//   within W needs no eventfd: W = 10, 30, 60 us gave RTT p50 28.1, 39.9,
//   39.8 us and busy-poll 31.6, 41.0, 40.7 us; busy_poll on both nodes gave
//   busy-poll p50 40.9 us (28.6 with A alone). On two cores a spinning loop
//   holds the core that the worker or the asker needs next. So the figures
//   the issue asks for (busy-poll <= 2x raw busy-poll) need fewer threads in
//   the path, not faster hand-offs: a sender that finds its link idle
//   (nothing queued, no send in flight, no TLS) writing its frame to the
//   socket itself would remove the asker -> A's loop and worker -> B's loop
//   hops (six -> four); the loop running a short handler inline, B's worker
//   hop. Each needs a claim on the socket shared with the loop's sendmsg.
//   Session 7, inline handlers (node_config::inline_handlers; inbound.cpp
//   on_batch_end, the engine's inline_turns): a tell or ask that makes an
//   idle actor runnable leaves the cell with the loop that cleared its
//   mark, and the loop runs its turn (<= 16 messages) right after reap,
//   before it drains its inbox, so the reply is in this turn's sendmsg:
//   the B's loop -> B's worker and B's worker -> B's loop hops are gone,
//   and no socket claim was needed. remote_bench 1000 3000 all --no-tls,
//   bench preset, 917ae58+, 5 runs, load ~10 (medians; switches and CPU
//   per round trip from getrusage over the whole process): plain-thread
//   ask RTT p50 24.7 -> 13.4 us, 8.0 -> 4.0 switches, 27 -> 15 CPU-us;
//   busy-poll (A's loop) 38.9 -> 13.3 us; actor-to-actor (ping-pong
//   between an actor on A and one on B, raw ping-pong's twin) 25.5 ->
//   9.2 us, 8.0 -> 2.0 switches (raw blocking: 5.5 us, 2.0 switches, same
//   runs), so with inline handlers on both nodes a round trip is loop ->
//   TCP -> loop -> TCP and wakes as many threads as raw does; busy-poll on
//   both loops, actor-to-actor: 50.2 -> 12.6 us against raw busy-poll
//   6.4 us (1.97x); three later runs at load 3-5: 9.5, 11.9, 9.1 us with
//   0.15, 6.2, 0.10 switches per round trip, against 6.5-6.6 us (1.4-1.8x;
//   both loops spin, so what switches is other load taking their cores).
//   Inline handlers do not change the one-way path (tells to a busy
//   actor are chained as before): A/B against 993280e, 19 interleaved
//   pairs of remote_bench 1000000 10 volley --no-tls, CPU-ns/msg medians
//   239 -> 273 in the first 11 (load ~11), 265 -> 249 in the next 8 (load
//   ~5): noise either way. What is left of the plain-thread ask is its two
//   hand-offs between the asking thread and A's loop (4 switches). On a
//   quiet VM, where each wake-up of an idle vCPU costs ~40 us, the switch
//   counts are what the p50s follow.
//   Session 8. The quiet suite run (2026-11-29T15-30-02Z) put the default
//   ask at 94.5 us against raw blocking 83.9 us (1.13x) and actor to actor
//   at 46.2 us (0.55x: the workers' 50 us spin before parking keeps their
//   vCPUs awake, so the hand-offs to them cost no halted-vCPU wake-up),
//   while with inline handlers actor to actor was 88.8 us (1.06x: two
//   sleeping loops, raw's two wake-ups). So a thread that stays awake for
//   the answer is what pays on an idle machine. Tried: reply_spin (the
//   loop, after a turn that handed user frames to the node, looks at its
//   inbox for up to a window before io_uring_enter; adaptive, reply_spin.
//   hpp). On this VM at load ~9 (remote_bench 10000 3000 volley --no-tls,
//   15 interleaved rounds, windows 10-100 us against 0): it caught the
//   push in ~9 us almost every time, yet ask p50 24.0 -> 27.2 us, actor
//   to actor 25.4 -> 31.1 us, CPU per round trip +3.5 us and switches
//   unchanged (8.0 -> 8.1): each sched_yield in the spin hands the core to
//   another process's runnable thread. A pure spin was worse (p50 75 us
//   at 50 us: the loop holds the core its pusher needs). The quiet suite
//   run decided (results/intel-xeon-2c/2026-11-29T17-54-28Z.json, rows
//   rtt_reply_spin_* and actor_rtt_reply_spin_* at 50 us beside the rows
//   without it): ask p50 65.0 -> 18.4 us (raw blocking 76.6 us), actor to
//   actor 45.5 -> 10.9 us, CPU per round trip 99 -> 39 us, switches 9.7 ->
//   5.0; two more quiet runs the same hour, 43.5/46.5 -> 17.0 us with raw
//   blocking at 5.8 us (the VM's wake-up cost had dropped). So it is on by
//   default (50 us), and a machine whose cores other work keeps busy sets
//   0. The ask waiter already spins 20 us (engine ask.hpp) before its
//   futex wait; a longer one would cover a quiet round trip only by
//   burning its length. Busy-poll: a polling node now runs inline handlers
//   unless told otherwise (node_config::inline_handlers unset): quiet,
//   busy-poll ask 42.8 -> 12.9 us (1.95x raw busy-poll 6.61 us) with the
//   answering node inline, actor to actor with both loops polling 29.7 ->
//   9.04 us (1.37x). Polling both nodes for a plain-thread ask puts three
//   spinning threads on two cores here: p50 15.6-20.3 us in 4 of 5 rounds
//   (7.7 ms in the fifth), p99 up to 40 ms.
//   Session 9, direct writes (transport_direct.cpp): an ask or a reply is
//   written to the socket by the thread that sends it when the connection
//   is idle, so the asker -> A's loop and B's worker -> B's loop hand-offs
//   are gone. perf sched timehist of the default ask (reply spin 50 us,
//   load ~8, all four threads squeezed onto one vCPU by other work): a
//   round trip is now asker -> B's loop (the asker's send wakes it) -> B's
//   worker (still spinning from the last request) -> A's loop (the
//   worker's send wakes it) -> the asker, ~4-5 us a step, where it was six
//   steps. remote_bench, 7 interleaved rounds against f059159, load 12-14:
//   default ask p50 27.66 -> 18.91 us, 8.0 -> 6.0 switches, 29.0 -> 20.6
//   CPU-us per round trip (raw blocking 5.56 us, 2.0 switches). What is
//   left above raw's two hand-offs: B's loop -> B's worker (inline
//   handlers remove it: 11.2 us) and A's loop -> the asker (the reply is
//   read by the loop's io_uring recv, not by the asking thread). The
//   busy-poll ask is unchanged (12.6 us, 4.0 switches at this load against
//   raw busy-poll 6.5 us: 1.94x): the three threads in its path (the
//   asker, A's spinning loop, B's sleeping loop) need B's loop woken once
//   per round trip, one switch in and one out, on two cores.
//
//   session 6, the sender's and the receiver's own work per message
//   (interleaved A/B against 52ae0d9, bench preset, two runs of 5 rounds,
//   load 12-21, remote_bench 1000000 10 volley --actor-sender): the
//   sender's path is made once per cell (cell_base::stable_path) and noted
//   as exposed once per thread by the cell's serial (proxy.cpp); the loop
//   lends its cached target and the sender's cached proxy instead of
//   copying refs and asking proxy_for() per frame (inbound.cpp); a frame
//   is validated and sized in one pass; a type's registration is
//   remembered per stream; counters one thread owns are bumped without a
//   locked add (a lock add just after a frame or an envelope is written
//   drains the store buffer: ~11% of the profile in all). CPU-ns per
//   message, medians of the two runs: one-way 321/295 -> 258/263 (-20%,
//   -11%); one-way from an actor (a 20-char sender path in each frame)
//   617/620 -> 375/390 (-39%, -37%); TLS one-way 416/384 -> 315/336. A
//   third run split the steps (base / sender+receiver caches, 743662b /
//   all, load ~12): one-way 307 -> 269 -> 270, from an actor 747 -> 473
//   -> 389, TLS 389 -> 346 -> 323 CPU-ns/msg.
//   Where the ~260 CPU-ns of a one-way message go now (perf record -e
//   cpu-clock at 2 kHz, remote_bench 2000000 10 volley --no-tls, split by
//   thread): B's loop 41% (deliver_tell 8%; envelope_local 7%, two thirds
//   of it the first write to an envelope whose memory the receiving
//   worker freed: a line moving between cores per message; parse_frame
//   6%; waking the worker 5%; the kernel's copy out 3%), the sending
//   thread 29% (the inbox push's exchange 6%, transport send 5%, envelope
//   alloc and free 4%, forward 2.5%, validate 2%), A's loop 19% (the
//   batch copy 3%, the kernel's copy in 3%, syscalls), B's worker 8% (the
//   handler 4%). What is left is the engine's and the transport's: the
//   envelope's line moving from the worker that frees it to the loop that
//   allocates it, one wake-up per batch, the two copies and the parse.
//   Session 7 (perf record -e cpu-clock at 4 kHz, remote_bench 3000000 10
//   volley --no-tls, bench preset, load 10-13, against 993280e): paths are
//   checked (frame_codec.cpp) and compared (inbound.cpp, same_path) a word
//   at a time, and a sender prefetches its item chunk for writing a few
//   items ahead (connection.cpp). parse_frame with its path check 9.7% ->
//   5.6% of all samples, the target's memcmp calls 3.0% -> 1.5%, the inbox
//   push 7.7% -> 3.3-4.4% (its exchange waited on stores to lines the loop
//   had last read). CPU-ns per message, medians of 9 interleaved rounds,
//   two runs: 240/226 -> 221/219; from an actor (7 rounds) 252 -> 243.
//   The split now: B's loop 35-39% (envelope_local 5.7-6.6%, mostly the
//   first write to an envelope the worker freed; waking the worker 4.7%;
//   parse 4-5%; the kernel's copy out 3%), the sending thread 31-36%
//   (forward 4.7%, send 4%, push 3.3-4.4%, encode and the item 2%), A's
//   loop 18-19% (the batch copy 3%, the kernel's copy in 3%), B's worker
//   7-8% (the handler 3-4%: the bench's receiver stores its count to a line
//   the sending thread reads per tell). Still to cut: one inbox exchange
//   and one bound reservation per frame on the sender (a per-thread stage
//   pushed as one chain needs a flush point that a plain thread that stops
//   sending cannot strand), and the envelope's line crossing cores.
//   Session 8 (remote_bench 2000000 10 volley --no-tls, bench preset,
//   load 10-12, interleaved against 13f1289): a streaming thread stages
//   its frames (transport_stage.cpp: 32 frames or 4 KiB per
//   chain, one exchange and one reservation per chain; a chain whose
//   thread pauses is swept by this loop after 50 us, with a membarrier), a
//   node checks a proxy's and a sender's path once instead of per frame,
//   and the access list's verdict for the last allowed path is kept. The
//   sending thread's atomics (send + push, perf record -g at 2 kHz) went
//   from 8.7% of all samples to 3.7% (send_staged 2.6%, send 1.1%, no
//   push); clock reads for the stream test 0.7%. CPU-ns per message,
//   medians of 6 rounds: 240 (13f1289) / 242 (paths only) / 222 (both);
//   msg/s 1.90 / 1.89 / 2.53 M. Final code, later at load ~5 (remote_bench
//   2000000 10 volley [--no-tls --actor-sender], 5 interleaved rounds
//   each): one-way 4.88 -> 5.34 M msg/s (10 runs), 224 -> 217 CPU-ns;
//   from an actor 3.67 -> 4.47 M, 296 -> 267 CPU-ns; TLS 4.10 -> 4.28 M,
//   246 -> 257 CPU-ns (TLS is 76% of plaintext). The spread at these loads
//   is +-15%, so the quiet suite run is the figure to trust. Not done: a
//   flush at the end of a worker's turn (an engine hook); a turn's tells
//   wait for the sweep when the worker sends nothing more. Still per
//   frame: B's loop's parse (4.7%), envelope alloc and first write (7.5%),
//   the two kernel copies (6%), and the sender's envelope for the tell
//   (the engine's pool).
//   Session 9, the split by thread (perf record -e cpu-clock -F 4000 -g,
//   remote_bench 6000000 100 volley --no-tls, f059159, bench preset, load
//   ~9; samples x 250 us / messages): B's loop 36% (~95 CPU-ns/msg: user
//   ~25%, envelope_alloc 5.4% and envelope_local 2.1% (the first write to
//   lines the worker freed), parse_frame 5.0%, same_path 2.2%, valid_path
//   1.8%, the chain of calls from the decoder to deliver_tell ~4%; kernel
//   ~11%, the copy out 3% and the TCP work its recv does for both
//   sockets), the sending thread 33% (~80 ns: forward 4.1%, send_staged
//   3.6%, send 1.9%, the item 1.7%, serialise 1.3%; the rest its kernel
//   time: waking A's loop and being preempted by it), A's loop 17% (~38
//   ns: the kernel's copy in 3.2%, the batch copy 2.8%, drain and
//   push_user 2.9%), B's worker 7-8% (~15 ns). B's loop is the one thread
//   that runs all the time, so it bounds the rate. The last tell's
//   admission and target are now kept (inbound.cpp, tell_run): B's loop
//   102 -> 92.5 CPU-ns/msg (medians of 4 interleaved pairs); the whole
//   process (remote_bench 2000000 10 volley --actor-sender, 6 interleaved
//   rounds against f059159, load ~9, medians): one-way 237 -> 200 CPU-ns,
//   2.29 -> 2.89 M msg/s; from an actor 317 -> 254 CPU-ns, 1.79 -> 2.54 M;
//   TLS 300 -> 290 CPU-ns, 1.70 -> 2.25 M (78% of plaintext). The spread
//   at that load is +-20%, so the quiet suite run is the figure to trust,
//   and B's loop alone explains ~10 of the ~37 ns. Tried and not
//   kept: receive buffers of 4/8/64/256 KiB against 16 KiB (B's loop
//   83-108 ns whatever the size, noise), chains of 64/128 frames (8/16
//   KiB) against 32 (no change beyond the +-10% noise), prefetching the
//   envelope 4, 8 or 16 blocks ahead instead of 1 (the same). What the
//   counts say is next: over 1 s of the run (/proc/<tid>/status), A's loop
//   slept and was woken ~14,000 times (eventfd writes ~1 per 570 frames;
//   the rest are its sendmsg completions, paced by B's reads), and the
//   sending thread was preempted ~15,000 times, mostly by that loop waking
//   on its core: ~2 switches per 250 frames; at ~3 us a switch, an
//   estimated 5-10% of the CPU per message.
//   A loop that, fed by a stream, bounds its sleep to stage_idle would let
//   a streaming thread stage a full chain before it wakes the loop.
//   Session 9, the stream's wake-ups (remote_bench 2000000 10 volley
//   --no-tls --only=one_way, bench preset, 5 interleaved rounds against
//   1875fd0, load ~4, perf stat -e context-switches over each run): while
//   the loop sleeps on a sendmsg in flight to a connection, a chain for
//   that connection writes no eventfd and starts no one-frame chain
//   (transport_stage.cpp, "Waking the loop"): that completion ends the
//   sleep anyway. Eventfd writes per 1000 frames ~1.75 -> 0.01, frames per
//   sendmsg ~2100 -> ~4600, the process's switches (medians) 12,949 ->
//   2,827, CPU-ns per message 215 -> 199 (one-way), 265 -> 239 (from an
//   actor). Wall msg/s did not move beyond the noise at this load
//   (medians 5.69 -> 5.63 M): B's loop, which runs all the time, bounds
//   the rate; what this frees is the sender's core. A second run of 5
//   rounds at load ~6.5: one-way 3.23 -> 3.71 M msg/s, 221 -> 198 CPU-ns,
//   switches 11,151 -> 4,795; from an actor 2.72 -> 3.57 M (243 -> 249
//   CPU-ns); ask RTT p50 20.3 -> 20.2 us. TLS connections are left out
//   (their records are written by flush_tls, whose in-flight state this
//   does not read): TLS one-way 3.03 -> 2.77 M, 265 -> 255 CPU-ns, noise.
//   Session 10, B's loop by instruction counts (callgrind with
//   bench/remote/callgrind_uring_shim.c; remote_bench 100000 and 300000 10
//   volley --no-tls --only=one_way, the two runs' difference / 200000):
//   a frame like the one before it skips the checks of its unchanged bytes
//   (frame_codec.cpp, parse_frame_like: parse and path scan 160 -> 80), a
//   user frame on an established connection goes straight to the handler
//   (transport_connection.cpp: 52 -> 27), a tell that continues a run is
//   delivered from on_frame and appended to the newest chain inline
//   (inbound.cpp: 155 -> 101). B's loop 621 -> 453 instructions per
//   message (from an actor, a sender path in each frame: 718 -> ~560); the
//   other threads did not move (the sending thread 946, A's loop 160-200,
//   B's worker ~117). Wall clock against d5f5ce0, 20 interleaved pairs at
//   load 2.5-3.9 (this VM's slow mode): one-way 5.70 -> 6.33 M msg/s
//   (median of the pairs' ratios 1.16), 201 -> 185 CPU-ns; from an actor
//   4.40 -> 4.73 M (1.09), 255 -> 244 CPU-ns. What is left in B's loop per
//   message: the parse 80, the envelope (handler scan, decode, move) 65,
//   its allocation 43, the run check 64 and deliver_batched 40, the
//   decoder's loop and callback ~50, the transport's hand-on 27.
//   Session 11, the sending thread by instruction counts (the same
//   callgrind runs, AMD EPYC 2-core VM, bench preset objects): a
//   trivially copyable message's bytes go into the frame from the envelope
//   (proxy.cpp: no serializer call, no buffer), and a send reaches its
//   stage and its claim slot through trivially constructed thread_locals
//   (no TLS guard, slow paths out of line). The sending thread 946 -> 863
//   instructions per message (894 after the payload, 877 after the claim);
//   the tell itself (cell_base::deliver + envelope_alloc, inclusive) 902 ->
//   819. Under callgrind the 2 us stream gap passes between two sends, so
//   each frame starts and pushes its own chain (flush_stage ~41, two clock
//   reads ~40 a message); natively those are paid once per 32 frames. Per
//   message now: send_staged ~132 with that flush, forward ~123, send ~70,
//   validate ~53, encode_exact ~52, the item ~50, the envelope's alloc and
//   free ~76, node_core::send ~34, the claim ~22: no single step left to
//   cut, the rest is the layers' calls. Wall clock could not tell (load
//   10-20 from other builds: one-way 0.3-5.1 M msg/s within one run).
//   The busy-poll ask (rtt_busy_poll_inline): B's loop runs ~4,400
//   instructions a round trip, spread thin (inline turn ~280, this loop
//   ~200, deliver_ask ~190, ...); strace -c -f counts per round trip
//   io_uring_enter 6.4, sched_yield 2.6, send 1, ioctl 1 (the direct
//   reply), futex 0.65. Tried and not kept: an idle polling turn that
//   enters the kernel only when IORING_SETUP_TASKRUN_FLAG says completions
//   wait for it (io_uring_enter 6.4 -> 5.0 a round trip; p50 pair ratio
//   1.005 over 12 interleaved pairs at load 15: no gain to justify a new
//   ring flag). What separates it from raw busy-poll is B's loop's wake-up
//   per round trip, not its instructions.
//   Session 12, the busy-poll ask by thread (strace -f -ff, remote_bench
//   1000 5000 volley --no-tls --only=rtt_busy_poll_inline: 550 asks; per
//   round trip): B's loop (sleeping, inline handler) made io_uring_enter
//   2.03, ioctl 1 and send 1 (its reply written directly, then one more
//   enter because a turn with completions counted as busy); the asking
//   thread getpid 1.06 (OpenSSL 3's fork check in each RAND_bytes call:
//   proxy.cpp drew its 64 ids with 64 calls), sched_yield 1 and futex
//   ~0.5 (the ask waiter, slowed by strace); A's loop, polling, ~3.6
//   enters and ~1.5 yields (spins: they follow the round trip's length).
//   Raw busy-poll: a send and the recv that finds data, per thread. Cut: a
//   loop's own reply goes into its turn's sendmsg (transport_direct.cpp),
//   and the ids come from one RAND_bytes call: B's loop 4.04 -> 3.02
//   syscalls, the asker's getpid 1.06 -> 0.00. Tried and not kept: a turn
//   whose only work was completions sleeping at once (B's loop 2.02; the
//   default ask's loops 2.0 -> 1.0 enters per round trip), which cost the
//   default ask a wake-up (see run()). Instructions (callgrind, --only=rtt_inline, 2000 minus
//   1000 round trips, per round trip): the asker 8,439 -> 1,873
//   (RAND_bytes 6,562 -> 116); B's loop 4,370 -> 5,505, the reply's way
//   through the stage, the inbox and the queue (send_staged ~310, drain
//   ~290, flush ~220, its sendmsg's completion ~210, against
//   write_directly's ~190): ~1,100 instructions for two syscalls. Not
//   taken: putting the loop's own reply straight into the connection's
//   queue would let it overtake a tell that the same inline turn staged
//   before it. Then the polling loop's idle turn yields before its enter,
//   not after, so the reply that enter posts is reaped at once (the
//   commit has the A/B: actor to actor busy-poll p50 24.7 -> 17.5 us,
//   6.0 -> 2.0 switches per round trip; the ask 27.1 -> 24.1 us).
//   Session 13, the busy-poll ask by thread (remote_bench 1000 200000
//   volley --no-tls --only=rtt_busy_poll_inline, 22,000 asks, AMD EPYC
//   2-core VM at load ~7; switches and CPU from /proc/<pid>/task/*, per
//   round trip). Raw busy-poll: two threads, a send and a recv each, no
//   switch. Ours, 06b424e: the asker slept on the futex in 0.37 of its
//   waits (its 20 us spin ends about when the reply comes) and used 25
//   CPU-us; A's loop (polling) 104 CPU-us, ~1 yield that switched; B's
//   loop 1.0 sleep and 12 CPU-us. strace -f -ff (11,000 asks, ~10x
//   slower): the asker sched_yield 1.0, futex 0.46; A's loop
//   io_uring_enter 5.7, sched_yield 3.0, futex 0.46 (the asker's wake);
//   B's loop io_uring_enter 3.0. What raw does not pay: B's loop's
//   wake-up per round trip (it does not poll: three polling threads on
//   two cores cost milliseconds), the asker's futex sleep and wake, and
//   the hand-off of the ask to A's loop, which on two cores waits until
//   the loop gets a core back. Now the asker writes its ask itself and
//   waits awake (transport_direct.cpp, node.cpp: poll_for_reply): the
//   asker 0.0004 sleeps, 2.0 yields that switched, 10-12 CPU-us; A's loop
//   1.0 and 3.6-4.5 CPU-us (it only reads the reply); B's loop unchanged.
//   strace: the asker ioctl 1, send 1, sched_yield 0.86, futex 0; A's
//   loop io_uring_enter 2.6, sched_yield 1.6, futex 0; B's loop 3.0.
//   Instructions (callgrind with the shim, 2000 minus 1000 round trips
//   of --only=rtt_busy_poll_inline, per round trip): the asker 1,956 ->
//   2,736 (the frame's encode and write_directly, and more looks while
//   it waits; under valgrind the looks follow the other threads' speed,
//   as A's loop's 78k -> 115k do), B's loop 5,731 -> 7,207 (the shim's
//   bounded poll counts its waits: schedule, not work). Wall clock is in
//   the commit: p50 -20% at load ~4 (1.56x raw busy-poll), -1 to -2% at
//   8-10, where both builds sit at ~24 us and 4 switches per round trip.
//   perf sched timehist of that mode: the scheduler keeps all three
//   threads on one vCPU (the other one runs other processes' compilers)
//   and the round trip is their turns in a row: the asker's send ~5 us,
//   B's loop ~11 us (woken onto the asker's vCPU by its send, taking the
//   core at the asker's next yield), A's loop ~5 us reading the reply.
//   What would help there is fewer threads on the path (the asker reading
//   its reply itself), not faster hand-offs.
#include "transport_impl.hpp"

#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include <volley/engine/ask.hpp>     // ask_sync::pure_spin
#include <volley/engine/system.hpp>  // pace_this_thread

namespace volley::remote {

namespace detail {
/// Tests only (busy_poll_test.cpp): 0 is the rule ("Busy-poll" above); 1, 2
/// and 3 are the known-bad variants its cases must catch (rest, poll_idle).
std::atomic<int> busy_poll_variant{0};
/// Tests only: called on the loop thread as a poll ends at its bound, before
/// the loop sleeps, with the number of sleeps so far.
std::atomic<void (*)(std::uint64_t)> busy_poll_rest_hook{nullptr};
}  // namespace detail

namespace {

/// Items taken from the inbox per turn: bounds how long completions wait
/// behind a flood of sends (64 Ki x ~50 ns = a few ms at most).
constexpr std::size_t max_drain_per_turn = 64 * 1024;

}  // namespace

// -- the loop ----------------------------------------------------------------------

thread_local const transport::impl* transport::impl::running_loop = nullptr;

void transport::impl::run(std::promise<void>& ready) {
  // Named, so that perf sched and top tell the loops from the workers
  // (the analysis of the round trip above needed it).
  pthread_setname_np(pthread_self(), "volley-io");
  // Inbound bursts are delivered at the network's pace: a nap for envelopes
  // here would hold every connection's frames and heartbeats.
  volley::pace_this_thread(false);
  running_loop = this;
  try {
    ring_ = std::make_unique<detail::uring>(cfg_.ring_entries);
    ring_->setup_buffers(cfg_.recv_buffer_count, cfg_.recv_buffer_size, buffer_group);
  } catch (...) {
    ring_.reset();  // on this thread: a SINGLE_ISSUER ring is torn down by its owner
    ready.set_exception(std::current_exception());
    return;
  }
  frame hb;
  hb.kind = frame_kind::heartbeat;
  encode_append(hb, heartbeat_bytes_);
  if (listen_fd_ >= 0) arm_accept();
  arm_eventfd();
  log(log_level::debug,
      std::string("io_uring ready, SINGLE_ISSUER|DEFER_TASKRUN ") +
          (ring_->defer_taskrun() ? "on" : "refused by the kernel, running without"));
  ready.set_value();  // the constructor's promise: not to be touched after this

  now_ = steady_clock::now();
  next_tick_ = now_ + idle_wake;
  while (!stopping_.load(std::memory_order_acquire)) {
    now_ = steady_clock::now();
    const std::uint64_t handed_on_before = local_handed_on_;
    // A turn with completions goes round once more before it sleeps. Tried
    // (session 12): sleeping at once saved that io_uring_enter, but the
    // extra turn catches the next request without a wake-up: the default
    // ask went 27.8 -> 32.6 us p50 and 4.8 -> 5.8 switches per round trip
    // (8 interleaved rounds, load ~5.5).
    bool busy = reap();
    // Traffic keeps a busy-polling loop polling (busy_poll_idle): user frames
    // received, and below, frames and commands handed to the loop. Heartbeats
    // and other completions are not, so a node that only keeps its links
    // alive rests.
    bool traffic = local_handed_on_ != handed_on_before;
    if (traffic) reply_spin_.handed_off();
    // What the completions brought goes to its actors (one chain per actor)
    // before the inbox is drained: a handler the node runs inline here
    // (node_config::inline_handlers) queues its reply in the inbox, and the
    // reply leaves in this turn's sendmsg, not the next turn's.
    handler_.on_batch_end();
    // Chains a sending thread stopped adding to (transport_stage.cpp).
    traffic |= sweep_stages(now_);
    if (drain_inbox(now_)) {
      traffic = true;
      reply_spin_.answered();  // the answer (if one was due) came without a spin
    }
    busy |= traffic;
    if (traffic) poll_until_ = now_ + cfg_.busy_poll_idle;
    if (now_ >= next_tick_) timers(now_);
    handler_.on_batch_end();  // what commands and timers delivered (a down, undelivered frames)
    write_contended_ = false;
    flush_dirty();
    busy |= write_contended_;
    finalize_closed(now_);
    // A close may still hand the node frames; none waits past this turn.
    handler_.on_batch_end();
    ring_->publish_buffers();
    publish_counters();
    if (!eventfd_armed_) arm_eventfd();
    if (busy) {
      submitted(io_uring_submit_and_get_events(ring_->get()));
      if (write_contended_) sched_yield();  // the sender may need this core to finish
    } else if (cfg_.busy_poll && established_ > 0 && polls_at(now_)) {
      // Polls until there is work (a completion, a push, a timer, a stop)
      // or busy_poll_idle has passed since the last traffic; then it rests
      // ("Busy-poll" above).
      if (!poll_idle()) rest(now_);
    } else if (reply_spin_.should_spin() && spin_for_push()) {
      // The answer came inside the window: no eventfd write, no wake-up.
      submitted(io_uring_submit_and_get_events(ring_->get()));
    } else {
      turn_sleep(now_);
      reply_spin_.slept(steady_clock::now() - now_, inbox_.maybe_nonempty());
    }
  }
  shutdown_all();
  handler_.on_batch_end();
}

void transport::impl::turn_sleep(steady_clock::time_point now) {
  // Relaxed: published by the seq_cst store of sleeping_ below, which a
  // sender's seq_cst load of it acquires before it reads this.
  sleep_ends_with_.store(sendmsg_in_flight(), std::memory_order_relaxed);
  sleeping_.store(true, std::memory_order_seq_cst);
  if (inbox_.maybe_nonempty() || stopping_.load(std::memory_order_seq_cst)) {
    // seq_cst, as below.
    sleeping_.store(false, std::memory_order_seq_cst);
    submitted(io_uring_submit_and_get_events(ring_->get()));
    return;
  }
  // After the seq_cst store of sleeping_: a chain staged now is seen here
  // (the sleep ends in time to sweep it) or its thread sees us asleep.
  auto wait = std::min(std::max(next_tick_ - now, steady_clock::duration::zero()), max_sleep());
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
  __kernel_timespec ts{};
  ts.tv_sec = ns / 1'000'000'000;
  ts.tv_nsec = ns % 1'000'000'000;
  sleeps_.store(++local_sleeps_, std::memory_order_relaxed);
  io_uring_cqe* cqe = nullptr;
  submitted(io_uring_submit_and_wait_timeout(ring_->get(), &cqe, 1, &ts, nullptr));
  // seq_cst: a sender that skipped the eventfd write (it read sleeping_ as
  // true, so its push comes before this store in the single order) is then
  // seen by the next seq_cst check of the inbox above, if not drained first.
  sleeping_.store(false, std::memory_order_seq_cst);
}

connection_id transport::impl::sendmsg_in_flight() {
  // Only the connection written last, and only plaintext with its sendmsg
  // submitted (not stalled for want of an SQE, not a TLS record, not a
  // sender's direct write): its completion, whenever the peer makes room,
  // is certain to end the sleep. No forwarding: a frame for it then goes
  // to another connection, which that completion does not gate.
  if (last_sendmsg_ == 0 || !forward_.empty()) return 0;
  connection* c = find(last_sendmsg_);
  if (!c || c->fd < 0 || c->tls || c->state != conn_state::established || c->send_stalled ||
      !c->out.in_flight())
    return 0;
  return c->id;
}

bool transport::impl::poll_idle() {
  io_uring* ring = ring_->get();
  const int variant = detail::busy_poll_variant.load(std::memory_order_relaxed);
  for (;;) {
    // Each look gives way to any thread woken on this core (the workers and
    // the asker a round trip passes through); without the yield, on a
    // machine with no core to spare, each waited for the scheduler tick:
    // remote_bench busy-poll RTT p50 was 4.0 ms (CONFIG_HZ=250). The yield
    // comes before the enter, not after: with DEFER_TASKRUN a reply that
    // reached the socket becomes a completion only inside io_uring_enter,
    // and seen at once it does not wait behind a yield that hands the core
    // to another thread first. For the same reason a look cannot skip the
    // enter and only peek at the completion queue: nothing would be there.
    sched_yield();
    submitted(io_uring_submit_and_get_events(ring));
    poll_looks_.store(++local_poll_looks_, std::memory_order_relaxed);
    if (inbox_.maybe_nonempty()) return true;
    const auto now = steady_clock::now();
    if (variant != 3) {  // known-bad 3 watches only the inbox and the bound
      if (io_uring_cq_ready(ring) != 0) return true;  // stop()'s eventfd write lands here too
      if (stopping_.load(std::memory_order_relaxed)) return true;
      if (now >= next_tick_) return true;  // heartbeats and deadlines are due
      if (staged_chains_.load(std::memory_order_relaxed) != 0 && now >= next_stage_check_)
        return true;  // a chain may wait for its sweep (transport_stage.cpp)
    }
    if (!polls_at(now)) return false;
  }
}

bool transport::impl::polls_at(steady_clock::time_point now) const noexcept {
  // Known-bad 2: no bound; the loop polls for as long as it has a peer.
  return now < poll_until_ || detail::busy_poll_variant.load(std::memory_order_relaxed) == 2;
}

void transport::impl::rest(steady_clock::time_point now) {
  poll_rests_.store(++local_poll_rests_, std::memory_order_relaxed);
  if (auto hook = detail::busy_poll_rest_hook.load(std::memory_order_relaxed)) hook(local_sleeps_);
  if (detail::busy_poll_variant.load(std::memory_order_relaxed) == 1) {
    // Known-bad 1: sleeps without the handshake, as if the poll had made it
    // needless; a push since the last look then waits for the idle tick.
    sleeps_.store(++local_sleeps_, std::memory_order_relaxed);
    __kernel_timespec ts{1, 0};
    io_uring_cqe* cqe = nullptr;
    submitted(io_uring_submit_and_wait_timeout(ring_->get(), &cqe, 1, &ts, nullptr));
    return;
  }
  turn_sleep(now);
}

bool transport::impl::spin_for_push() {
  // Only the inbox is watched: a worker's reply is pushed there. Socket
  // completions are not (with DEFER_TASKRUN they are posted only inside
  // io_uring_enter), so a reply from a peer still comes through the sleep.
  // As the ask waiter (engine ask.hpp, whose pure spin this takes): the
  // first 2 us spin, then each look yields, so that a worker woken onto this
  // core to answer gets it at once instead of waiting for the window to end.
  const auto start = steady_clock::now();
  const auto spin_until = start + volley::detail::ask_sync::pure_spin;
  const auto give_up_at = start + reply_spin_.window();
  for (auto now = start; now < give_up_at; now = steady_clock::now()) {
    if (inbox_.maybe_nonempty()) {
      reply_spin_.spun(true);
      return true;
    }
    if (stopping_.load(std::memory_order_relaxed)) break;
    if (now >= spin_until) sched_yield();
  }
  reply_spin_.spun(false);
  return false;
}

void transport::impl::submitted(int rc) {
  // -EBUSY/-EAGAIN: the CQ is full or memory is short; reaping on the next
  // turn is the cure. -ETIME/-EINTR: the wait ended, as it may. Anything
  // else is logged (at most once a second) and the loop goes on: what was
  // not taken stays queued for the next submit.
  if (rc >= 0 || rc == -EBUSY || rc == -EAGAIN || rc == -ETIME || rc == -EINTR) return;
  std::uint64_t held = 0;
  if (submit_log_.allow(now_, held))
    log(log_level::error, "io_uring_enter: " + errno_text(-rc) +
                              (held ? " (" + std::to_string(held) + " more)" : ""));
}

void transport::impl::publish_counters() {
  frames_sent_.store(local_sent_, std::memory_order_relaxed);
  frames_received_.store(local_received_, std::memory_order_relaxed);
  send_calls_.store(local_send_calls_, std::memory_order_relaxed);
  inbound_gauge_.store(inbound_open_, std::memory_order_relaxed);
  frames_undelivered_.store(local_undelivered_, std::memory_order_relaxed);
  frames_fate_unknown_.store(local_fate_unknown_, std::memory_order_relaxed);
  pending_gauge_.store(pending_handshakes_, std::memory_order_relaxed);
  established_gauge_.store(established_, std::memory_order_relaxed);
}

bool transport::impl::reap() {
  io_uring* ring = ring_->get();
  unsigned head;
  unsigned n = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(ring, head, cqe) {
    ++n;
    dispatch(*cqe);
  }
  io_uring_cq_advance(ring, n);
  return n > 0;
}

void transport::impl::dispatch(const io_uring_cqe& cqe) {
  auto tag = static_cast<op_tag>(cqe.user_data & tag_mask);
  auto* c = reinterpret_cast<connection*>(cqe.user_data & ~tag_mask);
  switch (tag) {
    case op_accept:
      on_accept(cqe.res, cqe.flags);
      break;
    case op_eventfd:
      eventfd_armed_ = false;
      if (!stopping_.load(std::memory_order_relaxed)) arm_eventfd();
      break;
    case op_recv:
      on_recv(*c, cqe.res, cqe.flags);
      break;
    case op_send:
      on_send(*c, cqe.res);
      break;
    case op_connect:
      on_connect(*c, cqe.res);
      break;
    case op_ignore:
      break;
  }
}

bool transport::impl::drain_inbox(steady_clock::time_point now) {
  std::size_t n = 0;
  connection* cached = nullptr;    // runs of frames for one connection skip the lookup
  detail::item_releaser releaser;  // one chunk release per run of copied frames
  while (n < max_drain_per_turn) {
    auto* item = static_cast<outbound_item*>(inbox_.pop());
    if (!item) break;
    ++n;
    switch (item->what) {
      case outbound_item::type::frame: {
        connection* c = (cached && cached->id == item->id) ? cached : find(item->id);
        if (!c || c->state == conn_state::closing || c->state == conn_state::folded) {
          // Its connection gave way to another to the same node: that one carries it.
          if (connection* w = forwarded(item->id, item)) c = w;
        }
        // Sent before its connection came up to a new incarnation of the
        // peer: meant for the old one, which is gone.
        bool stale = c && c->id == item->id && item->epoch < c->stale_epochs_below;
        // A connection that closes but will reconnect keeps what is sent
        // meanwhile, like one waiting in backoff.
        bool will_reconnect = c && c->state == conn_state::closing && c->outbound && !c->given_up &&
                              !stopping_.load(std::memory_order_relaxed);
        if (!c || (c->state == conn_state::closing && !will_reconnect) || stale) {
          const close_reason why =
              stale ? close_reason::node_restarted : (c ? c->reason : close_reason::peer_closed);
          detail::for_each_frame(*item, [&](const frame& f) {
            handler_.on_undelivered(item->id, f, why);
            ++local_undelivered_;
          });
          if (c) {
            c->shared->release(item->frames, item->size);
          }
          outbound_item::destroy(item);
          break;
        }
        cached = c;
        c->out.push_user(item, releaser);
        if (c->state == conn_state::established) mark_dirty(*c);
        break;
      }
      case outbound_item::type::connect: {
        auto owned = make_connection(item->id, true);
        connection& c = *owned;
        std::memcpy(&c.addr, item->data(), std::min<std::size_t>(item->size, sizeof c.addr));
        c.addr_len = static_cast<socklen_t>(item->size);
        c.peer.address = address_of(c.addr);
        conns_.emplace(c.id, std::move(owned));
        start_connect(c, now);
        outbound_item::destroy(item);
        break;
      }
      case outbound_item::type::reset: {
        connection* c = find(item->id);
        if (c && c->state != conn_state::closing && c->state != conn_state::backoff &&
            c->state != conn_state::folded) {
          c->backoff = std::chrono::milliseconds(0);  // reconnect at once
          close(*c, close_reason::node_restarted, "its node has a new incarnation elsewhere");
        }
        outbound_item::destroy(item);
        break;
      }
      case outbound_item::type::disconnect: {
        if (connection* c = find(item->id)) {
          c->given_up = true;
          if (c->state != conn_state::closing)
            close(*c, close_reason::local_close, "disconnect requested", true);
        }
        outbound_item::destroy(item);
        break;
      }
    }
  }
  return n > 0;
}

void transport::impl::timers(steady_clock::time_point now) {
  next_tick_ = now + idle_wake;
  if (accept_paused_) {
    if (now >= accept_resume_at_) {
      accept_paused_ = false;
      if (!accept_armed_) arm_accept();  // else its cancel is in flight: on_accept re-arms
    } else {
      wake_timers_at(accept_resume_at_);
    }
  }
  for (auto& [id, owned] : conns_) on_timer(*owned, now);
}

void transport::impl::flush_dirty() {
  std::size_t keep = 0;  // connections the ring had no room for stay dirty
  for (std::size_t i = 0; i < dirty_.size(); ++i) {
    connection* c = dirty_[i];
    c->dirty = false;
    if (c->fd < 0) continue;
    if (c->state == conn_state::backoff || c->state == conn_state::connecting) continue;
    if (c->state == conn_state::closing && !c->lingering) continue;
    if (c->tls) {  // chosen per connection: the plaintext path below stays as it was
      if (!flush_tls(*c)) {
        c->dirty = true;
        dirty_[keep++] = c;
      }
      continue;
    }
    msghdr* m = nullptr;
    if (c->out.in_flight()) {
      if (!c->send_stalled) continue;  // its completion marks it dirty again
      m = c->out.msg();                // the rest of a short write
    } else {
      if (!claim_write_side(*c)) {  // a sender is writing a frame: after it (transport_direct.cpp)
        c->dirty = true;
        dirty_[keep++] = c;
        write_contended_ = true;
        continue;
      }
      bool allow_user =
          c->state == conn_state::established || (c->lingering && c->flush_user_on_close);
      m = c->out.prepare(allow_user);
      if (!m) {
        offer_write_side(*c);
        continue;
      }
    }
    io_uring_sqe* sqe = ring_->sqe();
    if (!sqe) {
      // The batch is prepared (in flight) but not submitted: mark it stalled,
      // or the next flush would wait for a completion that never comes.
      c->send_stalled = true;
      c->dirty = true;
      dirty_[keep++] = c;
      continue;
    }
    c->send_stalled = false;
    io_uring_prep_sendmsg(sqe, c->fd, m, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, tagged(c, op_send));
    ++c->ops;
    ++local_send_calls_;
    // Kept while its write is still in flight: a write that completes at
    // once (a heartbeat, a lone frame) does not displace one that waits on
    // its peer (sendmsg_in_flight).
    if (last_sendmsg_ != c->id && sendmsg_in_flight() == 0) last_sendmsg_ = c->id;
  }
  dirty_.resize(keep);
}

void transport::impl::finalize_closed(steady_clock::time_point now) {
  if (closing_.empty()) return;
  std::vector<connection*> still;
  for (connection* c : closing_) {
    if (c->ops > 0 || c->lingering || c->dirty || c->discarding) {
      still.push_back(c);
      continue;
    }
    if (c->fd >= 0) ::close(c->fd);
    c->fd = -1;
    if (c->tls) {  // ciphertext may have carried any of its frames: complete() counts none
      std::size_t frames = 0, bytes = 0;
      c->out.abandon_in_flight(frames, bytes);
      local_fate_unknown_ += frames;
      c->shared->release(frames, bytes);
    } else {
      fail_in_flight(*c, c->reason);  // a short write's rest, or a stalled batch, never submitted
    }
    c->send_stalled = false;
    c->out.clear_control();
    c->tls.reset();  // a reconnect starts a new TLS session
    bool forwards = forward_.count(c->id) != 0;
    if (c->outbound && !c->given_up && !stopping_.load(std::memory_order_relaxed)) {
      if (forwards) {
        // Gave way to another connection to the same node: no reconnect
        // while that one lasts (release_forwards_to wakes it).
        c->state = conn_state::folded;
        c->hs.reset();
        c->lingering = false;
        c->flush_user_on_close = false;
        continue;
      }
      reset_for_reconnect(*c, now);
      continue;
    }
    if (c->given_up) forward_.erase(c->id);
    if (!forwards || c->given_up) {  // a forwarded id stays sendable while it forwards
      volley::detail::exclusive_lock lock(links_mutex_);
      c->shared->gone.store(true, std::memory_order_relaxed);
      links_.erase(c->id);
    }
    drop_queued(*c, c->reason);  // kept for a reconnect that will not come: counted
    conns_.erase(c->id);         // destroys c
  }
  closing_.swap(still);
}

std::uint64_t transport::impl::undeliver_inbox() {
  std::uint64_t frames = 0;
  while (auto* item = static_cast<outbound_item*>(inbox_.pop())) {
    if (item->what == outbound_item::type::frame) {
      detail::for_each_frame(*item, [&](const frame& f) {
        handler_.on_undelivered(item->id, f, close_reason::local_close);
        ++frames;
      });
    }
    outbound_item::destroy(item);
  }
  return frames;
}

void transport::impl::shutdown_all() {
  for (auto& [id, owned] : conns_) {
    owned->given_up = true;
    if (owned->state != conn_state::closing) {
      close(*owned, close_reason::local_close, "transport shutting down");
    } else if (owned->lingering || owned->draining) {
      cut(*owned);
    }
  }
  local_undelivered_ += undeliver_inbox();
  if (listen_fd_ >= 0) {
    if (io_uring_sqe* sqe = ring_->sqe()) {
      io_uring_prep_cancel_fd(sqe, listen_fd_, IORING_ASYNC_CANCEL_ALL);
      io_uring_sqe_set_data64(sqe, op_ignore);
    }
  }
  linger_at_stop();  // each peer's end of stream, or close_linger
  // Wait (bounded) for the kernel to finish with our buffers before freeing them.
  auto give_up_at = steady_clock::now() + stop_buffer_wait;
  auto busy = [&] {
    for (auto& [id, owned] : conns_)
      if (owned->ops > 0) return true;
    return false;
  };
  while (busy() && steady_clock::now() < give_up_at) {
    __kernel_timespec ts = stop_wait_slice;
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(ring_->get(), &cqe, 1, &ts, nullptr);
    now_ = steady_clock::now();
    reap();
  }
  finalize_closed(steady_clock::now());
  for (auto& [id, owned] : conns_) {
    // The kernel did not finish with these in time: their writes' fate is
    // unknown, and they are counted so, not dropped silently.
    std::size_t frames = 0, bytes = 0;
    owned->out.abandon_in_flight(frames, bytes);
    drop_queued(*owned, close_reason::local_close);
    local_fate_unknown_ += frames;
    if (owned->fd >= 0) ::close(owned->fd);
  }
  publish_counters();
  conns_.clear();
  ring_.reset();
}

// -- submissions and accepts --------------------------------------------------------

void transport::impl::arm_accept() {
  io_uring_sqe* sqe = ring_->sqe();
  if (!sqe) {  // the ring is stuck: try again after a pause, like EMFILE
    pause_accept(EBUSY, false);
    return;
  }
  accept_armed_ = true;
  io_uring_prep_multishot_accept(sqe, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, tagged(nullptr, op_accept));
}

void transport::impl::arm_eventfd() {
  io_uring_sqe* sqe = ring_->sqe();
  eventfd_armed_ = sqe != nullptr;  // if not, the next turn tries again
  if (!sqe) return;
  io_uring_prep_read(sqe, event_fd_, &eventfd_value_, sizeof eventfd_value_, 0);
  io_uring_sqe_set_data64(sqe, tagged(nullptr, op_eventfd));
}

void transport::impl::mark_dirty(connection& c) {
  if (c.dirty) return;
  c.dirty = true;
  dirty_.push_back(&c);
}

void transport::impl::on_accept(int res, unsigned flags) {
  bool stopping = stopping_.load(std::memory_order_relaxed);
  bool more = flags & IORING_CQE_F_MORE;
  if (!more) accept_armed_ = false;
  if (res < 0) {
    if (res == -ECANCELED) {
      if (!stopping && !accept_paused_) arm_accept();  // a pause ended before its cancel
      return;
    }
    if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
      // Re-arming now would fail again at once for as long as the backlog
      // holds a connection: the kernel's shortage is ours to wait out.
      pause_accept(-res, more);
      return;
    }
    std::uint64_t held = 0;
    if (accept_log_.allow(now_, held))
      log(log_level::warning, "accept: " + errno_text(-res) +
                                  (held ? " (and " + std::to_string(held) + " more errors)" : ""));
    if (!more && !stopping) arm_accept();  // ECONNABORTED and the like: one socket's fault
    return;
  }
  if (!more && !stopping && !accept_paused_) arm_accept();
  accept_pause_ = std::chrono::milliseconds(0);  // an fd was free: the shortage is over
  if (stopping) {
    ::close(res);
    return;
  }
  if (inbound_open_ >= cfg_.max_inbound_connections) {
    refuse(res, "max_inbound_connections");
    return;
  }
  if (pending_handshakes_ >= cfg_.max_pending_handshakes) {
    refuse(res, "max_pending_handshakes");
    return;
  }
  set_nodelay(res);
  connection_id id = next_id_.fetch_add(1, std::memory_order_relaxed);
  auto owned = make_connection(id, false);
  connection& c = *owned;
  c.fd = res;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(res, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    c.peer.address = address_of(ss);
  conns_.emplace(id, std::move(owned));
  ++inbound_open_;
  ++pending_handshakes_;
  begin_handshake(c, handshake::role::acceptor);
  arm_recv(c);
}

void transport::impl::pause_accept(int err, bool still_armed) {
  accept_pause_ =
      accept_pause_.count() == 0 ? accept_pause_min : std::min(accept_pause_ * 2, accept_pause_max);
  accept_paused_ = true;
  accept_resume_at_ = now_ + accept_pause_;
  wake_timers_at(accept_resume_at_);
  accept_pauses_.fetch_add(1, std::memory_order_relaxed);
  if (still_armed) {
    // A multishot accept that reports an error and goes on would spin as the
    // re-arming did: stop it; its -ECANCELED ends it.
    if (io_uring_sqe* sqe = ring_->sqe()) {
      io_uring_prep_cancel64(sqe, tagged(nullptr, op_accept), 0);
      io_uring_sqe_set_data64(sqe, op_ignore);
    }
  }
  std::uint64_t held = 0;
  if (accept_log_.allow(now_, held))
    log(log_level::warning,
        "accept: " + errno_text(err) + ": not accepting for " +
            std::to_string(accept_pause_.count()) + " ms" +
            (held ? " (" + std::to_string(held) + " more since the last line)" : ""));
}

void transport::impl::refuse(int fd, const char* why) {
  ::close(fd);
  refused_.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t held = 0;
  if (refuse_log_.allow(now_, held))
    log(log_level::warning,
        std::string("refused an inbound connection: ") + why + " reached (" +
            std::to_string(inbound_open_) + " open, " + std::to_string(pending_handshakes_) +
            " handshaking)" +
            (held ? "; " + std::to_string(held) + " more since the last line" : ""));
}

}  // namespace volley::remote
