// Trapezoid: `workers` worker actors each integrate one slice of [left,
// right] with the trapezoid rule; the main thread sums the slices. The sum
// must match a much finer Simpson's rule to 1e-6 relative.
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/reference_answers.hpp>

#include <cmath>

namespace volley::caf_peer {

namespace {

caf::behavior trapezoid_worker(caf::event_based_actor* self) {
  return {[=](work_atom, double left, double width, std::int64_t pieces) {
    double area = 0;
    for (std::int64_t i = 0; i < pieces; ++i) {
      double lx = left + static_cast<double>(i) * width;
      area +=
          0.5 * (savina::trapezoid_function(lx) + savina::trapezoid_function(lx + width)) * width;
    }
    self->quit();
    return caf::make_message(result_atom::value, area);
  }};
}

}  // namespace

measurement trapezoid(const parameters& p, int workers) {
  const auto pieces = p.integer("pieces");
  const auto n = p.integer("workers");
  const auto left = p.real("left");
  const auto right = p.real("right");
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  std::vector<caf::actor> all;
  for (std::int64_t i = 0; i < n; ++i) all.push_back(rt.system().spawn(trapezoid_worker));
  const double width = (right - left) / static_cast<double>(pieces);
  double area = 0;
  std::int64_t lost = 0;
  // Requests, not plain sends: a worker answers one and quits, and CAF
  // answers a request it can no longer deliver with an error, so a
  // duplicated slice request shows as an unanswered slice.
  using slice_reply = decltype(self->request(caf::actor{}, caf::infinite, work_atom::value, 0.0,
                                             0.0, std::int64_t{0}));
  std::vector<slice_reply> slices;
  savina::stopwatch clock;
  for (std::int64_t i = 0; i < n; ++i) {
    auto first = pieces * i / n, last = pieces * (i + 1) / n;
    for (int copy = i == 0 ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
      slices.push_back(self->request(all[static_cast<std::size_t>(i)], caf::infinite,
                                     work_atom::value, left + static_cast<double>(first) * width,
                                     width, last - first));
  }
  for (auto& s : slices)
    s.receive([&](result_atom, double a) { area += a; }, [&](caf::error&) { ++lost; });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  savina::check(lost == 0, std::to_string(lost) + " slice requests were not answered");
  const double expected = savina::trapezoid_integral(left, right);
  savina::check(std::fabs(area - expected) <= 1e-6 * std::fabs(expected),
                "area " + std::to_string(area) + ", expected " + std::to_string(expected));
  m.messages = static_cast<std::uint64_t>(2 * n);
  m.items = static_cast<std::uint64_t>(pieces);
  return m;
}

}  // namespace volley::caf_peer
