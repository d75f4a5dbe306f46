// Bank transaction: a teller issues `transactions` random transfers between
// `accounts` account actors at once. The source account debits itself and
// asks the destination to credit (request/reply), then confirms to the
// teller. Money is conserved: the balances must sum to what they started at.
// As on volley, transfers are numbered and confirmed once, and each final
// balance must equal the one the main thread gets by replaying the draws.
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/pseudo_random.hpp>

namespace volley::caf_peer {

namespace {

using transfer_atom = caf::atom_constant<caf::atom("transfer")>;
using credit_atom = caf::atom_constant<caf::atom("credit")>;
using balance_atom = caf::atom_constant<caf::atom("balance")>;

constexpr std::int64_t initial_balance = 1'000'000;

struct account_state {
  std::int64_t balance = initial_balance;
};

caf::behavior account(caf::stateful_actor<account_state>* self) {
  return {
      [=](transfer_atom, std::int64_t id, std::int64_t amount, const caf::actor& destination) {
        self->state.balance -= amount;
        auto teller = caf::actor_cast<caf::actor>(self->current_sender());
        self->request(destination, caf::infinite, credit_atom::value, amount).then([=](ack_atom) {
          self->send(teller, done_atom::value, id);
        });
      },
      [=](credit_atom, std::int64_t amount) {
        self->state.balance += amount;
        return ack_atom::value;
      },
      [=](balance_atom) { return self->state.balance; },
  };
}

struct teller_state {
  std::int64_t confirmed = 0;
  std::vector<bool> seen;
};

caf::behavior teller(caf::stateful_actor<teller_state>* self, actor_list accounts,
                     std::int64_t transactions, caf::actor main) {
  return {
      [=](start_atom) {
        self->state.seen.assign(static_cast<std::size_t>(transactions), false);
        savina::pseudo_random random(42);
        auto n = static_cast<std::uint64_t>(accounts->size());
        for (std::int64_t i = 0; i < transactions; ++i) {
          auto src = random.below(n);
          auto dst = random.below(n - 1);
          if (dst >= src) ++dst;
          auto amount = static_cast<std::int64_t>(random.below(1000)) + 1;
          for (int copy = i == 0 ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
            self->send((*accounts)[src], transfer_atom::value, i, amount, (*accounts)[dst]);
        }
      },
      [=](done_atom, std::int64_t id) {
        auto& seen = self->state.seen;
        if (seen[static_cast<std::size_t>(id)])
          savina::wrong_answer("transfer " + std::to_string(id) + " was confirmed twice");
        seen[static_cast<std::size_t>(id)] = true;
        if (++self->state.confirmed == transactions) {
          self->send(main, done_atom::value, self->state.confirmed);
          self->quit();
        }
      },
  };
}

// Each account's balance after `transactions` transfers, by replaying the
// teller's draws (same seed, same order).
std::vector<std::int64_t> expected_balances(std::int64_t accounts, std::int64_t transactions) {
  std::vector<std::int64_t> balance(static_cast<std::size_t>(accounts), initial_balance);
  savina::pseudo_random random(42);
  auto n = static_cast<std::uint64_t>(accounts);
  for (std::int64_t i = 0; i < transactions; ++i) {
    auto src = random.below(n);
    auto dst = random.below(n - 1);
    if (dst >= src) ++dst;
    auto amount = static_cast<std::int64_t>(random.below(1000)) + 1;
    balance[src] -= amount;
    balance[dst] += amount;
  }
  return balance;
}

}  // namespace

measurement bank_transaction(const parameters& p, int workers) {
  const auto n = p.integer("accounts");
  const auto transactions = p.integer("transactions");
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto accounts = std::make_shared<std::vector<caf::actor>>();
  for (std::int64_t i = 0; i < n; ++i) accounts->push_back(rt.system().spawn(account));
  auto t = rt.system().spawn(teller, actor_list{accounts}, transactions, caf::actor{self});
  std::int64_t confirmed = 0;
  savina::stopwatch clock;
  self->send(t, start_atom::value);
  self->receive([&](done_atom, std::int64_t c) { confirmed = c; });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  std::int64_t total = 0;
  std::int64_t off = 0;
  auto expected = expected_balances(n, transactions);
  for (std::size_t i = 0; i < accounts->size(); ++i)
    self->request((*accounts)[i], caf::infinite, balance_atom::value)
        .receive(
            [&](std::int64_t b) {
              total += b;
              off += b != expected[i];
            },
            [&](caf::error&) { total = -1; });
  stop_all(*accounts);
  savina::check(off == 0,
                std::to_string(off) + " accounts end with a balance the transfers do not give");
  savina::check(confirmed == transactions,
                "teller confirmed " + std::to_string(confirmed) + " transfers");
  savina::check(total == n * initial_balance, "balances sum to " + std::to_string(total) +
                                                  ", expected " +
                                                  std::to_string(n * initial_balance));
  m.messages = m.items = static_cast<std::uint64_t>(4 * transactions);
  return m;
}

}  // namespace volley::caf_peer
