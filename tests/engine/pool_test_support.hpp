// Shared by the pools' tests (cell_pool_test.cpp, envelope_pool_test.cpp):
// a ring of threads that allocate and free each other's blocks, on which
// every path of a pool runs at once.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#include "engine_test_support.hpp"

namespace volley::test {

/// What a ring run found: blocks with a stamp that is not the one their
/// allocating thread wrote (one handed out twice, or overwritten while
/// live), and blocks checked and freed.
struct ring_counts {
  std::size_t bad_stamps = 0;
  std::size_t checked = 0;
};

/// Thread t allocates a round's blocks (128 B on even threads, 192 B on
/// odd ones), stamps each with (t, round, i), and hands them to thread t+1,
/// which checks the stamps and frees them: a thread that frees what it did
/// not allocate, in a class it does not allocate.
template <class Alloc, class Free>
ring_counts allocate_across_a_ring(Alloc alloc, Free free, int threads, std::size_t rounds,
                                   std::size_t per_round) {
  struct mailbox {
    std::atomic<std::vector<void*>*> blocks{nullptr};
  };
  std::vector<mailbox> boxes(static_cast<std::size_t>(threads));
  std::atomic<std::size_t> checked{0};
  std::atomic<std::size_t> bad_stamps{0};
  struct stamp {
    std::uint64_t thread, round, index;
  };
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const std::size_t size = t % 2 == 0 ? 128 : 192;
      const std::size_t from_size = t % 2 == 0 ? 192 : 128;  // what thread t-1 allocates
      for (std::size_t r = 0; r < rounds; ++r) {
        auto* mine = new std::vector<void*>();
        for (std::size_t i = 0; i < per_round; ++i) {
          void* p = alloc(size);
          std::memset(p, 0, size);
          ::new (p) stamp{std::uint64_t(t), r, i};
          mine->push_back(p);
        }
        // Hand the round over, then free what the previous thread handed us.
        std::vector<void*>* prev = nullptr;
        while (boxes[t].blocks.load(std::memory_order_acquire) != nullptr)
          std::this_thread::yield();
        boxes[t].blocks.store(mine, std::memory_order_release);
        const int from = (t + threads - 1) % threads;
        while ((prev = boxes[from].blocks.exchange(nullptr, std::memory_order_acq_rel)) == nullptr)
          std::this_thread::yield();
        for (std::size_t i = 0; i < prev->size(); ++i) {
          const auto* s = static_cast<const stamp*>((*prev)[i]);
          if (s->thread != std::uint64_t(from) || s->round != r || s->index != i) ++bad_stamps;
          free((*prev)[i], from_size);
        }
        checked.fetch_add(prev->size(), std::memory_order_relaxed);
        delete prev;
      }
    });
  }
  for (auto& w : workers) w.join();
  return {bad_stamps.load(), checked.load()};
}

/// The case both pools' tests run: four threads in a ring (above) with a
/// depot of two magazines, so that magazines overflow into their chunks,
/// partial chunks are taken up again and chunks go back, all while other
/// threads allocate: every path of the pool at once. Every block must carry
/// its own stamp and be counted; then, with what the depot kept taken and
/// freed again with no depot, every chunk the threads opened must be gone.
/// `current` and `set_depot_cap` are the pool's (cell_pool::, envelope_pool::).
template <class Alloc, class Free, class Current, class SetDepotCap>
void check_blocks_across_a_ring(Alloc alloc, Free free, Current current,
                                SetDepotCap set_depot_cap) {
  const long saved_cap = current().depot_cap;
  set_depot_cap(2);
  constexpr int threads = 4;
  const std::size_t rounds = scaled(40);
  const std::size_t per_round = scaled(20'000);
  const std::size_t before = current().chunks_live;
  const auto counts = allocate_across_a_ring(alloc, free, threads, rounds, per_round);
  CHECK(counts.bad_stamps == 0);
  CHECK(counts.checked == threads * rounds * per_round);
  set_depot_cap(0);
  std::thread([&] {
    const std::size_t depot_max = 2 * std::size_t{current().magazine_size};
    for (std::size_t size : {128u, 192u}) {
      std::vector<void*> blocks;
      for (std::size_t i = 0; i < depot_max + 1; ++i) blocks.push_back(alloc(size));
      for (void* p : blocks) free(p, size);
    }
  }).join();
  INFO("chunks before " << before << ", after " << current().chunks_live);
  CHECK(current().chunks_live == before);
  set_depot_cap(saved_cap);
}

}  // namespace volley::test
