// Matrix multiplication: twin of bench/savina/matrix_multiplication.cpp.
// C = A × B for two D×D integer matrices, A[i][k] = i and B[k][j] = j, so
// C[i][j] = D·i·j. A master hands block products to `workers` workers round
// robin; a worker splits a block of more than `block_threshold` elements
// into the eight half-size products and sends them back in one `split`, and
// multiplies a smaller one (block_matrix.hpp, shared with volley) and sends
// the product block back, which the master adds into its C. Every block
// handed out is closed by exactly one reply; every element of C must equal
// D·i·j.
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/block_matrix.hpp>
#include <volley/savina/fault_injection.hpp>

namespace volley::caf_peer {
namespace {
using block_split = std::array<savina::matrix_block, 8>;
using shared_inputs = std::shared_ptr<const savina::square_matrices>;
}  // namespace
}  // namespace volley::caf_peer

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volley::savina::matrix_block)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(volley::caf_peer::block_split)

namespace volley::caf_peer {

namespace {

using split_atom = caf::atom_constant<caf::atom("split")>;
using product_atom = caf::atom_constant<caf::atom("product")>;

caf::behavior matrix_worker(caf::event_based_actor* self, shared_inputs inputs,
                            std::int64_t threshold, caf::actor master) {
  return {[=](const savina::matrix_block& block) {
    if (block.size * block.size > threshold) {
      auto halves = savina::split_block(block);
      for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
        self->send(master, split_atom::value, halves);
      return;
    }
    self->send(master, product_atom::value, block, savina::multiply_block(*inputs, block));
  }};
}

struct master_state {
  std::vector<caf::actor> workers;
  std::size_t next = 0;
  std::int64_t open = 0, replies = 0, products = 0;
  std::vector<std::int64_t> c;
};

// Every block handed out is closed by exactly one split or product reply.
caf::behavior matrix_master(caf::stateful_actor<master_state>* self, shared_inputs inputs,
                            std::int64_t threshold, std::int64_t worker_count, caf::actor main) {
  self->state.c.assign(static_cast<std::size_t>(inputs->dimension * inputs->dimension), 0);
  auto hand_out = [=](const savina::matrix_block& block) {
    auto& s = self->state;
    ++s.open;
    self->send(s.workers[s.next++ % s.workers.size()], block);
  };
  auto close = [=] {
    auto& s = self->state;
    if (--s.open > 0) return;
    self->send(main, done_atom::value, std::move(s.c), s.replies, s.products);
    stop_all(s.workers);
    s.workers.clear();
    self->quit();
  };
  return {
      [=](start_atom) {
        for (std::int64_t i = 0; i < worker_count; ++i)
          self->state.workers.push_back(
              self->spawn(matrix_worker, inputs, threshold, caf::actor{self}));
        hand_out(savina::matrix_block{0, 0, 0, 0, 0, 0, inputs->dimension});
      },
      [=](split_atom, const block_split& halves) {
        ++self->state.replies;
        for (const auto& block : halves) hand_out(block);
        close();
      },
      [=](product_atom, const savina::matrix_block& block,
          const std::vector<std::int64_t>& values) {
        ++self->state.replies;
        ++self->state.products;
        savina::add_block_product(self->state.c, inputs->dimension, block, values);
        close();
      },
  };
}

}  // namespace

measurement matrix_multiplication(const parameters& p, int workers) {
  const auto dimension = p.integer("dimension");
  const auto worker_count = p.integer("workers");
  const auto threshold = p.integer("block_threshold");
  auto inputs = std::make_shared<const savina::square_matrices>(dimension);
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto master = rt.system().spawn(matrix_master, inputs, threshold, worker_count, caf::actor{self});
  std::vector<std::int64_t> c;
  std::int64_t replies = 0;
  savina::stopwatch clock;
  self->send(master, start_atom::value);
  self->receive([&](done_atom, std::vector<std::int64_t>& product, std::int64_t r, std::int64_t) {
    c = std::move(product);
    replies = r;
  });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  auto wrong = savina::wrong_product_elements(c, dimension);
  savina::check(wrong == 0, std::to_string(wrong) + " elements of the product differ from D·i·j");
  // Each reply closes one block handed to a worker.
  m.messages = static_cast<std::uint64_t>(2 * replies);
  m.items = static_cast<std::uint64_t>(dimension * dimension * dimension);
  return m;
}

}  // namespace volley::caf_peer
