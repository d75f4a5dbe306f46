#include "extra_rounds.hpp"

#include <sstream>

namespace volley::bench {

using nlohmann::json;

std::vector<json> extra_rounds(const json& entry) {
  if (!entry.is_object()) return {};
  if (entry.contains("rounds") && entry["rounds"].is_array())
    return {entry["rounds"].begin(), entry["rounds"].end()};
  if (entry.contains("figures") && entry["figures"].is_array()) return {entry};
  return {};
}

std::optional<double> round_figure(const json& round, const std::string& impl,
                                   const std::string& figure) {
  if (!round.contains("figures") || !round["figures"].is_array()) return std::nullopt;
  for (const auto& f : round["figures"])
    if (f.is_object() && f.value("impl", "") == impl && f.value("figure", "") == figure &&
        f.contains("value") && f["value"].is_number())
      return f["value"].get<double>();
  return std::nullopt;
}

std::vector<figure_spread> figure_spreads(const json& entry) {
  const auto rounds = extra_rounds(entry);
  std::vector<figure_spread> out;
  for (const auto& round : rounds) {
    if (!round.contains("figures") || !round["figures"].is_array()) continue;
    for (const auto& f : round["figures"]) {
      if (!f.is_object()) continue;
      const auto impl = f.value("impl", "?");
      const auto figure = f.value("figure", "?");
      bool seen = false;
      for (const auto& s : out) seen = seen || (s.impl == impl && s.figure == figure);
      if (!seen) out.push_back({impl, figure, f.value("unit", ""), {}, rounds.size()});
    }
  }
  for (auto& s : out) {
    std::vector<double> values;
    for (const auto& round : rounds)
      if (auto v = round_figure(round, s.impl, s.figure)) values.push_back(*v);
    s.values = summarise(std::move(values));
  }
  return out;
}

const std::vector<ratio_spec>& quoted_ratios() {
  static const std::vector<ratio_spec> ratios = {
      {"remote (volley)", "volley", "one_way", "remote (volley)", "raw", "one_way_batched"},
      {"remote (volley)", "volley", "tls_one_way", "remote (volley)", "volley", "one_way"},
      {"remote (volley)", "volley", "rtt_p50", "remote (volley)", "raw", "rtt_p50"},
      {"remote (volley)", "volley", "rtt_busy_poll_p50", "remote (volley)", "raw",
       "rtt_busy_poll_p50"},
      {"remote (volley)", "volley", "one_way", "remote (CAF)", "caf", "one_way"},
      {"remote (volley)", "volley", "rtt_p50", "remote (CAF)", "caf", "rtt_p50"},
  };
  return ratios;
}

summary ratio_over_rounds(const json& extras, const ratio_spec& spec) {
  if (!extras.is_object() || !extras.contains(spec.entry_a) || !extras.contains(spec.entry_b))
    return {};
  const auto a = extra_rounds(extras[spec.entry_a]);
  const auto b = extra_rounds(extras[spec.entry_b]);
  std::vector<double> ratios;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    auto x = round_figure(a[i], spec.impl_a, spec.figure_a);
    auto y = round_figure(b[i], spec.impl_b, spec.figure_b);
    if (x && y && *y != 0) ratios.push_back(*x / *y);
  }
  return summarise(std::move(ratios));
}

namespace {

// The remote programs print latencies in microseconds ("us"); they read
// best in the unit that suits their size ("17.3 ms", not "1.725e+04 us" as
// %.4g printed it), as the latency table's do. Sizes in bytes ("B") take
// the SI prefix on the unit ("1.22 kB"). Every other figure has three
// significant digits and an SI prefix (statistics.hpp), as the throughput
// tables' do, with its unit after the range.
bool is_microseconds(const std::string& unit) {
  return unit == "us";
}

bool is_bytes(const std::string& unit) {
  return unit == "B";
}

// A value that carries its own unit (a duration, a size in bytes), or the
// bare number.
std::string value_text(double v, const std::string& unit) {
  if (is_microseconds(unit)) return duration_text(v * 1000);
  if (is_bytes(unit)) return bytes_text(v);
  return si(v);
}

/// "14.8 (12.8 – 15.1) M msg/s", "31.7 µs (23.4 µs – 48.3 µs)", "1.22 kB
/// (1.21 kB – 1.26 kB)"; the value alone when there is one, or when every
/// round printed the same ("0 B", not "0 B (0 B – 0 B)").
std::string spread_text(const summary& s, const std::string& unit) {
  auto text = value_text(s.median, unit);
  const auto low = value_text(s.min, unit), high = value_text(s.max, unit);
  if (s.count > 1 && !(low == text && high == text)) text += " (" + low + " – " + high + ")";
  if (!unit.empty() && !is_microseconds(unit) && !is_bytes(unit)) text += " " + unit;
  return text;
}

std::string rounds_text(std::size_t with, std::size_t of) {
  return with == of ? std::to_string(of) : std::to_string(with) + " of " + std::to_string(of);
}

}  // namespace

std::string extras_markdown(const json& extras) {
  if (!extras.is_object()) return "";
  std::ostringstream md;
  for (const auto& [name, entry] : extras.items()) {
    const auto spreads = figure_spreads(entry);
    if (spreads.empty()) continue;
    const auto rounds = spreads.front().rounds;
    if (rounds == 1) {
      // One run (every file before schema 4, and the extras run once): the
      // plain value, as the README showed it before there were rounds.
      md << "| " << name << " | figure | value |\n|---|---|--:|\n";
      for (const auto& s : spreads)
        md << "| " << s.impl << " | " << s.figure << " | " << spread_text(s.values, s.unit)
           << " |\n";
    } else {
      md << "| " << name << " | figure | median (min – max) | rounds |\n|---|---|--:|--:|\n";
      for (const auto& s : spreads)
        md << "| " << s.impl << " | " << s.figure << " | " << spread_text(s.values, s.unit) << " | "
           << rounds_text(s.values.count, s.rounds) << " |\n";
    }
    md << "\n";
    // Fewer rounds than asked for: say why, so that a short range is not
    // read as a quiet machine.
    const auto planned = entry.value("rounds_planned", 0);
    if (planned > 0 && static_cast<std::size_t>(planned) > rounds)
      md << name << ": " << rounds << " of " << planned << " planned rounds ran ("
         << entry.value("stopped", "status " + entry.value("status", std::string("?"))) << ").\n\n";
  }
  std::ostringstream ratios;
  for (const auto& spec : quoted_ratios()) {
    const auto r = ratio_over_rounds(extras, spec);
    if (r.count == 0) continue;
    ratios << "| " << spec.impl_a << " " << spec.figure_a << " / " << spec.impl_b << " "
           << spec.figure_b << " | " << spread_text(r, "") << " | " << r.count << " |\n";
  }
  if (!ratios.str().empty())
    md << "| remote ratio, per round | median (min – max) | rounds |\n|---|--:|--:|\n"
       << ratios.str()
       << "\nEach ratio is taken within one round (volley's and the raw socket's figures come "
          "from the same process; against CAF, round i of each, run back to back) and then "
          "summarised over the rounds.\n\n";
  return md.str();
}

}  // namespace volley::bench
