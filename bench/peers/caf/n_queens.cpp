// N-queens: count the solutions of the size-N problem. A worker that gets a
// board with fewer than `threshold` queens sends each legal extension back
// to the master, which hands work to the `workers` workers round robin;
// deeper boards are solved sequentially. The count must match the known one,
// and the boards the master got must be exactly the boards the workers say
// they sent (each result carries its sender's count), so a lost or
// duplicated board fails the run even where it held no solution.
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>

#include <volley/savina/reference_answers.hpp>

#include <array>

namespace volley::caf_peer {

namespace {

struct board {
  std::array<int, 32> columns{};
  int depth = 0;
};

}  // namespace

}  // namespace volley::caf_peer

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volley::caf_peer::board)

namespace volley::caf_peer {

namespace {

caf::behavior queens_worker(caf::event_based_actor* self, int size, int threshold,
                            caf::actor master) {
  return {[=](const board& b) {
    if (b.depth >= threshold) {
      self->send(master, result_atom::value,
                 savina::n_queens_count_from(size, b.columns.data(), b.depth), std::int64_t{0});
      return;
    }
    std::int64_t complete = 0, sent = 0;
    for (int c = 0; c < size; ++c) {
      if (!savina::n_queens_safe(b.columns.data(), b.depth, c)) continue;
      board child = b;
      child.columns[static_cast<std::size_t>(b.depth)] = c;
      child.depth = b.depth + 1;
      if (child.depth == size)
        ++complete;
      else {
        ++sent;
        for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
          self->send(master, work_atom::value, child);
      }
    }
    // Sent after the children (same sender, so delivered in order): the
    // master's count of open boards cannot reach zero early.
    self->send(master, result_atom::value, complete, sent);
  }};
}

struct master_state {
  std::vector<caf::actor> workers;
  std::size_t next = 0;
  std::int64_t open_boards = 0;
  std::int64_t solutions = 0;
  std::int64_t received = 0;
  std::int64_t boards_received = 0;
  std::int64_t boards_sent = 0;
};

// Every board handed out is closed by exactly one result message.
caf::behavior queens_master(caf::stateful_actor<master_state>* self, int size, int threshold,
                            std::int64_t worker_count, caf::actor main) {
  auto hand_out = [=](const board& b) {
    auto& s = self->state;
    ++s.open_boards;
    self->send(s.workers[s.next++ % s.workers.size()], b);
  };
  return {
      [=](start_atom) {
        for (std::int64_t i = 0; i < worker_count; ++i)
          self->state.workers.push_back(
              self->spawn(queens_worker, size, threshold, caf::actor{self}));
        hand_out(board{});
      },
      [=](work_atom, const board& b) {
        ++self->state.received;
        ++self->state.boards_received;
        hand_out(b);
      },
      [=](result_atom, std::int64_t found, std::int64_t boards_sent) {
        auto& s = self->state;
        ++s.received;
        s.solutions += found;
        s.boards_sent += boards_sent;
        if (--s.open_boards == 0) {
          self->send(main, done_atom::value, s.solutions, s.received, s.boards_received,
                     s.boards_sent);
          stop_all(s.workers);
          s.workers.clear();
          self->quit();
        }
      },
  };
}

}  // namespace

measurement n_queens(const parameters& p, int workers) {
  const auto size = static_cast<int>(p.integer("size"));
  const auto threshold = static_cast<int>(p.integer("threshold"));
  const auto worker_count = p.integer("workers");
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto master = rt.system().spawn(queens_master, size, threshold, worker_count, caf::actor{self});
  std::int64_t solutions = -1, received = 0, boards_received = 0, boards_sent = 0;
  savina::stopwatch clock;
  self->send(master, start_atom::value);
  self->receive([&](done_atom, std::int64_t s, std::int64_t r, std::int64_t br, std::int64_t bs) {
    solutions = s;
    received = r;
    boards_received = br;
    boards_sent = bs;
  });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  // First: a lost or extra board is the cause when the count is off too.
  savina::check(boards_received == boards_sent,
                "the master got " + std::to_string(boards_received) + " boards, the workers sent " +
                    std::to_string(boards_sent));
  savina::check(solutions == savina::n_queens_solutions(size),
                std::to_string(solutions) + " solutions, expected " +
                    std::to_string(savina::n_queens_solutions(size)));
  // Master's inbox, plus one board sent to a worker per work message and the root.
  m.messages = static_cast<std::uint64_t>(2 * received);
  m.items = static_cast<std::uint64_t>(solutions);
  return m;
}

}  // namespace volley::caf_peer
