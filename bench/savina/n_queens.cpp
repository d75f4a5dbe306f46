// N-queens on volley: twin of bench/peers/caf/n_queens.cpp. Count the
// solutions of the size-N problem. A worker that gets a board with fewer
// than `threshold` queens sends each legal extension back to the master,
// which hands work to its `workers` workers round robin; deeper boards are
// solved sequentially. The count must match the known one, and the boards
// the master got must be exactly the boards the workers say they sent (each
// `found` carries its sender's count), so a lost or duplicated board fails
// the run even where it held no solution.
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/reference_answers.hpp>

#include <array>
#include <future>

namespace volley::savina_on_volley {

namespace {

struct board {
  std::array<int, 32> columns{};
  int depth = 0;
};

struct queens_result {
  std::int64_t solutions;
  std::int64_t received;
  std::int64_t boards_received;
  std::int64_t boards_sent;
};

struct queens_master;

struct queens_worker {
  int size;
  int threshold;
  actor_ref<queens_master> master;
  queens_worker(int s, int t, actor_ref<queens_master> m)
      : size(s), threshold(t), master(std::move(m)) {}
  void on(const board& b);
};

// Every board handed out is closed by exactly one `found` message.
struct queens_master : volley::actor<queens_master> {
  struct start {};
  struct work {
    board b;
  };
  struct found {
    std::int64_t solutions;
    std::int64_t boards_sent;  // work messages its sender sent before it
  };

  int size;
  int threshold;
  std::int64_t worker_count;
  std::promise<queens_result>* done;
  std::vector<actor_ref<queens_worker>> workers;
  std::size_t next = 0;
  std::int64_t open_boards = 0, solutions = 0, received = 0;
  std::int64_t boards_received = 0, boards_sent = 0;

  queens_master(int s, int t, std::int64_t w, std::promise<queens_result>* d)
      : size(s), threshold(t), worker_count(w), done(d) {}

  void hand_out(const board& b) {
    ++open_boards;
    workers[next++ % workers.size()].tell(b);
  }
  void on(const start&, context& ctx) {
    for (std::int64_t i = 0; i < worker_count; ++i)
      workers.push_back(ctx.spawn<queens_worker>(size, threshold, self()));
    hand_out(board{});
  }
  void on(const work& w) {
    ++received;
    ++boards_received;
    hand_out(w.b);
  }
  void on(const found& f, context& ctx) {
    ++received;
    solutions += f.solutions;
    boards_sent += f.boards_sent;
    if (--open_boards == 0) {
      done->set_value({solutions, received, boards_received, boards_sent});
      ctx.stop();  // the workers are its children: they stop first
    }
  }
};

void queens_worker::on(const board& b) {
  if (b.depth >= threshold) {
    master.tell(
        queens_master::found{savina::n_queens_count_from(size, b.columns.data(), b.depth), 0});
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
        master.tell(queens_master::work{child});
    }
  }
  // Sent after the children (same sender, so delivered in order): the
  // master's count of open boards cannot reach zero early.
  master.tell(queens_master::found{complete, sent});
}

}  // namespace

measurement n_queens(const parameters& p, int workers) {
  const auto size = static_cast<int>(p.integer("size"));
  const auto threshold = static_cast<int>(p.integer("threshold"));
  const auto worker_count = p.integer("workers");
  volley::system sys(make_config(workers));
  std::promise<queens_result> done;
  auto master = sys.spawn<queens_master>(size, threshold, worker_count, &done);
  savina::stopwatch clock;
  master.tell(queens_master::start{});
  auto result = done.get_future().get();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  // First: a lost or extra board is the cause when the count is off too.
  savina::check(result.boards_received == result.boards_sent,
                "the master got " + std::to_string(result.boards_received) +
                    " boards, the workers sent " + std::to_string(result.boards_sent));
  savina::check(result.solutions == savina::n_queens_solutions(size),
                std::to_string(result.solutions) + " solutions, expected " +
                    std::to_string(savina::n_queens_solutions(size)));
  // Master's inbox, plus one board sent to a worker per work message and the root.
  m.messages = static_cast<std::uint64_t>(2 * result.received);
  m.items = static_cast<std::uint64_t>(result.solutions);
  return m;
}

}  // namespace volley::savina_on_volley
