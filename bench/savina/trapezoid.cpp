// Trapezoid on volley: twin of bench/peers/caf/trapezoid.cpp. `workers`
// worker actors each integrate one slice of [left, right] with the
// trapezoid rule and answer the main thread's ask with their area; the main
// thread sums the slices. The sum must match a much finer Simpson's rule
// to 1e-6 relative. Each worker answers one ask and stops, so a duplicated
// slice request finds the worker gone and its ask fails (counted as an
// unanswered slice); a lost one is never answered (the deadline reports it).
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/reference_answers.hpp>

#include <cmath>

namespace volley::savina_on_volley {

namespace {

struct trapezoid_worker {
  struct work {
    double left;
    double width;
    std::int64_t pieces;
  };
  double on(const work& w, context& ctx) {
    // Locals, not w's fields: the function is opaque to the optimiser, so
    // fields read through a reference would be reloaded after every call.
    const double left = w.left, width = w.width;
    const std::int64_t pieces = w.pieces;
    double area = 0;
    for (std::int64_t i = 0; i < pieces; ++i) {
      double lx = left + static_cast<double>(i) * width;
      area +=
          0.5 * (savina::trapezoid_function(lx) + savina::trapezoid_function(lx + width)) * width;
    }
    ctx.stop();  // one slice each, as in Savina
    return area;
  }
};

}  // namespace

measurement trapezoid(const parameters& p, int workers) {
  const auto pieces = p.integer("pieces");
  const auto n = p.integer("workers");
  const auto left = p.real("left");
  const auto right = p.real("right");
  volley::system sys(make_config(workers));
  std::vector<actor_ref<trapezoid_worker>> all;
  for (std::int64_t i = 0; i < n; ++i) all.push_back(sys.spawn<trapezoid_worker>());
  const double width = (right - left) / static_cast<double>(pieces);
  std::vector<volley::future<double>> slices;
  double area = 0;
  std::int64_t lost = 0;
  savina::stopwatch clock;
  for (std::int64_t i = 0; i < n; ++i) {
    auto first = pieces * i / n, last = pieces * (i + 1) / n;
    const trapezoid_worker::work slice{left + static_cast<double>(first) * width, width,
                                       last - first};
    for (int copy = i == 0 ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
      slices.push_back(all[static_cast<std::size_t>(i)].ask(slice));
  }
  for (auto& s : slices) {
    auto r = s.get();
    if (r)
      area += r.value();
    else
      ++lost;
  }
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(lost == 0, std::to_string(lost) + " slice requests were not answered");
  const double expected = savina::trapezoid_integral(left, right);
  savina::check(std::fabs(area - expected) <= 1e-6 * std::fabs(expected),
                "area " + std::to_string(area) + ", expected " + std::to_string(expected));
  m.messages = static_cast<std::uint64_t>(2 * n);
  m.items = static_cast<std::uint64_t>(pieces);
  return m;
}

}  // namespace volley::savina_on_volley
