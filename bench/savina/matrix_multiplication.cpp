// Matrix multiplication on volley: twin of bench/peers/caf/matrix_multiplication.cpp.
// C = A × B for two D×D matrices, A[i][k] = i and B[k][j] = j (Savina's
// MatMul inputs; integers here, so C[i][j] = D·i·j exactly on every
// runtime). A master hands block products to `workers` worker actors round
// robin. A worker that gets a block of more than `block_threshold` elements
// splits it into the eight half-size products of the 2×2 block scheme and
// sends them back in one `split`; a smaller one it multiplies (transposing
// its B block, then one dot product per element: the loop every runtime
// runs) and sends the product block back. The master adds product blocks
// into C; C is the master's alone, so no two workers write one element.
//
// Every handed-out block is closed by exactly one `split` or `product`
// reply; the run ends when none is open. A lost reply leaves the master
// waiting (--deadline reports it); a lost or duplicated block leaves C
// short or over, and every element of C must equal D·i·j.
//
// Nearly all of the time is multiply_block's dot product (90% of perf's
// samples), the same object code in both binaries. It once ran 1.7x slower
// here than in caf-savina only because the linker put its 21-byte loop
// across a 64-byte line here and inside one there; the common library now
// starts every loop on a line (bench/savina/README.md, "Shared kernels").
// Its repetitions still spread 1.6-1.7x on the 2-vCPU VM, in CPU time per
// multiply-add at an unchanged parallelism: the host's speed, which moves
// the kernel alone 1.9x (savina-kernel-drift; README, "Spread of
// producer-consumer, fork-join creation and matrix multiplication").
#include "volley_workloads.hpp"

#include <volley/savina/block_matrix.hpp>
#include <volley/savina/fault_injection.hpp>

#include <array>
#include <future>
#include <memory>

namespace volley::savina_on_volley {

namespace {

using savina::matrix_block;

struct matrix_result {
  std::vector<std::int64_t> c;
  std::int64_t replies;
  std::int64_t products;
};

struct matrix_master;

struct matrix_worker {
  std::shared_ptr<const savina::square_matrices> inputs;
  std::int64_t threshold;
  actor_ref<matrix_master> master;
  matrix_worker(std::shared_ptr<const savina::square_matrices> in, std::int64_t t,
                actor_ref<matrix_master> m)
      : inputs(std::move(in)), threshold(t), master(std::move(m)) {}
  void on(const matrix_block& block);
};

struct matrix_master : volley::actor<matrix_master> {
  struct start {};
  struct split {
    std::array<matrix_block, 8> blocks;
  };
  struct product {
    matrix_block block;
    std::vector<std::int64_t> values;  // block.size × block.size, row-major
  };

  std::shared_ptr<const savina::square_matrices> inputs;
  std::int64_t threshold;
  std::int64_t worker_count;
  std::promise<matrix_result>* done;
  std::vector<actor_ref<matrix_worker>> workers;
  std::size_t next = 0;
  std::int64_t open = 0, replies = 0, products = 0;
  std::vector<std::int64_t> c;

  matrix_master(std::shared_ptr<const savina::square_matrices> in, std::int64_t t, std::int64_t w,
                std::promise<matrix_result>* d)
      : inputs(std::move(in)), threshold(t), worker_count(w), done(d) {
    c.assign(static_cast<std::size_t>(inputs->dimension * inputs->dimension), 0);
  }

  void hand_out(const matrix_block& block) {
    ++open;
    workers[next++ % workers.size()].tell(block);
  }
  void on(const start&, context& ctx) {
    for (std::int64_t i = 0; i < worker_count; ++i)
      workers.push_back(ctx.spawn<matrix_worker>(inputs, threshold, self()));
    hand_out(matrix_block{0, 0, 0, 0, 0, 0, inputs->dimension});
  }
  void on(const split& s, context& ctx) {
    ++replies;
    for (const auto& block : s.blocks) hand_out(block);
    close(ctx);
  }
  void on(const product& p, context& ctx) {
    ++replies;
    ++products;
    savina::add_block_product(c, inputs->dimension, p.block, p.values);
    close(ctx);
  }
  void close(context& ctx) {
    if (--open > 0) return;
    done->set_value({std::move(c), replies, products});
    ctx.stop();  // the workers are its children: they stop first
  }
};

void matrix_worker::on(const matrix_block& block) {
  if (block.size * block.size > threshold) {
    auto halves = savina::split_block(block);
    for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
      master.tell(matrix_master::split{halves});
    return;
  }
  master.tell(matrix_master::product{block, savina::multiply_block(*inputs, block)});
}

}  // namespace

measurement matrix_multiplication(const parameters& p, int workers) {
  const auto dimension = p.integer("dimension");
  const auto worker_count = p.integer("workers");
  const auto threshold = p.integer("block_threshold");
  auto inputs = std::make_shared<const savina::square_matrices>(dimension);
  volley::system sys(make_config(workers));
  std::promise<matrix_result> done;
  auto master = sys.spawn<matrix_master>(inputs, threshold, worker_count, &done);
  savina::stopwatch clock;
  master.tell(matrix_master::start{});
  auto result = done.get_future().get();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(sys.dead_letters().count() == 0,
                std::to_string(sys.dead_letters().count()) + " messages became dead letters");
  auto wrong = savina::wrong_product_elements(result.c, dimension);
  savina::check(wrong == 0, std::to_string(wrong) + " elements of the product differ from D·i·j");
  // Each reply closes one block handed to a worker.
  m.messages = static_cast<std::uint64_t>(2 * result.replies);
  m.items = static_cast<std::uint64_t>(dimension * dimension * dimension);
  return m;
}

}  // namespace volley::savina_on_volley
