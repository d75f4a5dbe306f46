// The sleeping barber's timetable (bench/savina/common/.../barber_shop.hpp):
// who is seated, told to wait or turned away is decided by arrival steps and
// drawn haircut lengths alone, and the haircuts go out in seating order, a
// turned-away customer's only once he is back in the room.
#include <volley/savina/barber_shop.hpp>

#include <catch2/catch.hpp>

using namespace volley::savina;

TEST_CASE("a full room turns customers away and seats them in order as seats free") {
  // haircut_rate 1: every haircut is below(1) + 10 = 10 steps.
  barber_shop shop(/*capacity=*/1, /*customers=*/4, /*haircut_rate=*/1);
  CHECK(shop.arrive(0, 0) == barber_shop::entry::seated);          // cut 0-10
  CHECK(shop.arrive(1, 1) == barber_shop::entry::seated_to_wait);  // cut 10-20
  CHECK(shop.arrive(2, 2) == barber_shop::entry::turned_away);     // seat frees at 10: cut 20-30
  // The last arrival finds the seat taken by customer 2; when it frees at
  // 20, customer 3 takes it (cut 30-40).
  CHECK(shop.arrive(3, 15) == barber_shop::entry::turned_away);
  CHECK(shop.turned_away() == 2);
  CHECK(shop.told_to_wait() == 1);
  CHECK(shop.naps() == 1);
  CHECK(shop.haircut_steps() == 40);

  auto first = shop.next_haircut();
  REQUIRE(first);
  CHECK(first->customer == 0);
  CHECK(first->steps == 10);
  CHECK(first->nap_before);
  CHECK_FALSE(shop.next_haircut());  // the barber is busy
  shop.barber_done();
  auto second = shop.next_haircut();
  REQUIRE(second);
  CHECK(second->customer == 1);
  CHECK_FALSE(second->nap_before);
  shop.barber_done();
  // Customer 2 is next but still on his way back; customer 3 coming back
  // first does not let him jump the queue.
  CHECK_FALSE(shop.next_haircut());
  shop.come_back(3);
  CHECK_FALSE(shop.next_haircut());
  shop.come_back(2);
  auto third = shop.next_haircut();
  REQUIRE(third);
  CHECK(third->customer == 2);
  shop.barber_done();
  auto fourth = shop.next_haircut();
  REQUIRE(fourth);
  CHECK(fourth->customer == 3);
  shop.barber_done();
  CHECK_FALSE(shop.next_haircut());
}

TEST_CASE("the barber naps before a haircut that starts after the last one ended") {
  barber_shop shop(5, 3, 1);
  CHECK(shop.arrive(0, 0) == barber_shop::entry::seated);   // cut 0-10: nap
  CHECK(shop.arrive(1, 10) == barber_shop::entry::seated);  // 10-20 straight on
  CHECK(shop.arrive(2, 50) == barber_shop::entry::seated);  // 50-60: nap
  CHECK(shop.naps() == 2);
  CHECK(shop.told_to_wait() == 0);
  CHECK(shop.turned_away() == 0);
}

// The figures every runtime's run must report (the volley, CAF and Erlang
// runs were checked against them, bench_fault_injection_test compares each
// runtime's details with expected_barber_work()). Pinned so a change of the
// draws, the rule or the sizes shows here first.
TEST_CASE("the draws give the same work per run: reference size and a size with bounces") {
  CHECK(expected_barber_work({10'000, 1'000, 1'000, 1'000}) ==
        barber_work{.turned_away = 0,
                    .told_to_wait = 9'942,
                    .naps = 58,
                    .arrival_steps = 5'044'049,
                    .haircut_steps = 5'088'663});
  auto bounces = expected_barber_work({200, 10, 100, 150});
  CHECK(bounces == barber_work{.turned_away = 156,
                               .told_to_wait = 40,
                               .naps = 4,
                               .arrival_steps = 12'442,
                               .haircut_steps = 16'947});
  CHECK(bounces.messages(200) == 6 * 200 + 3 * 156 + 40 + 4);
}
