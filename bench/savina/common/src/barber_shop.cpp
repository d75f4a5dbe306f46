#include <volley/savina/barber_shop.hpp>

#include <volley/savina/fault_injection.hpp>

#include <algorithm>
#include <limits>
#include <string>

namespace volley::savina {

barber_shop::barber_shop(std::int64_t capacity, std::int64_t customers, std::int64_t haircut_rate)
    : capacity_(capacity),
      customers_(customers),
      haircut_rate_(haircut_rate),
      away_(static_cast<std::size_t>(customers)) {}

barber_shop::entry barber_shop::arrive(std::int64_t id, std::int64_t at) {
  if (id < 0 || id >= customers_ || first_arrivals_ == customers_ || at < last_arrival_at_)
    wrong_answer("customer " + std::to_string(id) + " arrived out of turn at step " +
                 std::to_string(at));
  ++first_arrivals_;
  last_arrival_at_ = at;
  advance_to(at);
  entry result = entry::seated;
  if (static_cast<std::int64_t>(seated_starts_.size()) == capacity_) {
    ++turned_away_;
    away_[static_cast<std::size_t>(id)] = 1;
    outside_.push_back(id);
    result = entry::turned_away;
  } else {
    seat(id, at);
    if (seated_starts_.back() > at) {
      ++told_to_wait_;
      result = entry::seated_to_wait;
    }
  }
  // Nobody arrives after the last first arrival: whoever is outside takes
  // the seats as they free.
  if (first_arrivals_ == customers_) advance_to(std::numeric_limits<std::int64_t>::max());
  return result;
}

void barber_shop::come_back(std::int64_t id) {
  if (id < 0 || id >= customers_ || away_[static_cast<std::size_t>(id)] == 0)
    wrong_answer("customer " + std::to_string(id) + " came back but was not turned away");
  away_[static_cast<std::size_t>(id)] = 0;
}

std::optional<barber_shop::haircut> barber_shop::next_haircut() {
  if (!barber_free_ || to_hand_out_.empty() ||
      away_[static_cast<std::size_t>(to_hand_out_.front().customer)] != 0)
    return std::nullopt;
  barber_free_ = false;
  auto cut = to_hand_out_.front();
  to_hand_out_.pop_front();
  return cut;
}

void barber_shop::seat(std::int64_t id, std::int64_t at) {
  const auto start = std::max(at, barber_free_at_);
  const auto steps =
      static_cast<std::int64_t>(random_.below(static_cast<std::uint64_t>(haircut_rate_))) + 10;
  const bool nap = start > barber_free_at_;
  naps_ += nap ? 1 : 0;
  haircut_steps_ += steps;
  barber_free_at_ = start + steps;
  seated_starts_.push_back(start);
  to_hand_out_.push_back({id, steps, nap});
}

void barber_shop::advance_to(std::int64_t now) {
  while (!seated_starts_.empty() && seated_starts_.front() <= now) {
    const auto freed_at = seated_starts_.front();
    seated_starts_.pop_front();
    if (!outside_.empty()) {
      const auto id = outside_.front();
      outside_.pop_front();
      seat(id, freed_at);
    }
  }
}

barber_sizes barber_sizes_of(const parameters& p) {
  return {p.integer("haircuts"), p.integer("waiting_room"), p.integer("arrival_rate"),
          p.integer("haircut_rate")};
}

barber_work expected_barber_work(const barber_sizes& sizes) {
  barber_shop shop(sizes.waiting_room, sizes.haircuts, sizes.haircut_rate);
  pseudo_random factory_random(1);
  barber_work work;
  std::int64_t at = 0;
  for (std::int64_t id = 0; id < sizes.haircuts; ++id) {
    shop.arrive(id, at);
    at += arrival_gap(factory_random, sizes.arrival_rate);
  }
  work.turned_away = shop.turned_away();
  work.told_to_wait = shop.told_to_wait();
  work.naps = shop.naps();
  work.arrival_steps = at;
  work.haircut_steps = shop.haircut_steps();
  return work;
}

namespace {

std::string describe(const barber_work& w) {
  return std::to_string(w.turned_away) + " turned away, " + std::to_string(w.told_to_wait) +
         " told to wait, " + std::to_string(w.naps) + " naps, " + std::to_string(w.arrival_steps) +
         " arrival steps, " + std::to_string(w.haircut_steps) + " haircut steps";
}

}  // namespace

barber_report barber_counts::report() const {
  barber_report r;
  r.haircuts = haircuts.load();
  r.entries = entries.load();
  r.returns = returns.load();
  r.naps_decided = room_naps.load();
  r.work.turned_away = turned_away.load();
  r.work.told_to_wait = told_to_wait.load();
  r.work.naps = barber_naps.load();
  r.work.arrival_steps = arrival_steps.load();
  r.work.haircut_steps = haircut_steps.load();
  return r;
}

void check_barber_run(const barber_sizes& sizes, const barber_report& r, measurement& m) {
  const auto n = sizes.haircuts;
  check(r.haircuts == n, "the barber cut " + std::to_string(r.haircuts) + " times for " +
                             std::to_string(n) + " customers");
  check(r.work.turned_away == r.returns, std::to_string(r.work.turned_away) +
                                             " customers were turned away, " +
                                             std::to_string(r.returns) + " came back");
  check(r.entries == n + r.returns, "the room saw " + std::to_string(r.entries) + " entries for " +
                                        std::to_string(n) + " customers and " +
                                        std::to_string(r.returns) + " returns");
  check(r.work.naps == r.naps_decided, "the barber napped " + std::to_string(r.work.naps) +
                                           " times, the room sent " +
                                           std::to_string(r.naps_decided));
  const auto expected = expected_barber_work(sizes);
  check(r.work == expected,
        "the shop did " + describe(r.work) + "; the draws give " + describe(expected));
  m.messages = static_cast<std::uint64_t>(r.work.messages(n));
  m.items = static_cast<std::uint64_t>(n);
  m.details = {{"turned_away", r.work.turned_away},
               {"told_to_wait", r.work.told_to_wait},
               {"barber_naps", r.work.naps},
               {"arrival_steps", r.work.arrival_steps},
               {"haircut_steps", r.work.haircut_steps}};
}

}  // namespace volley::savina
