// The "0-3,8" cpu list syntax. Errors quote the whole input and say what to
// write instead, because the reader is a person who just typed VOLLEY_CPUS.
#include "volley/affinity/cpu_list.hpp"

#include <charconv>
#include <stdexcept>
#include <unordered_set>

namespace volley::affinity {

namespace {

constexpr std::string_view syntax_hint =
    "write OS PU indices and ranges separated by commas, such as \"0-3,8\"";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

class list_parser {
 public:
  list_parser(std::string_view text, std::string_view origin) : text_(text), origin_(origin) {}

  std::vector<unsigned> parse() {
    if (trim(text_).empty()) {
      fail("the list is empty; " + std::string(syntax_hint) + ", or unset " + std::string(origin_) +
           " for one worker per core");
    }
    std::vector<unsigned> out;
    std::unordered_set<unsigned> seen;
    std::size_t entry_number = 0;
    std::string_view rest = text_;
    while (true) {
      ++entry_number;
      const std::size_t comma = rest.find(',');
      const std::string_view entry = trim(rest.substr(0, comma));
      if (entry.empty()) {
        fail("entry " + std::to_string(entry_number) + " is empty; " + std::string(syntax_hint));
      }
      const auto [first, last] = parse_entry(entry);
      for (unsigned pu = first;; ++pu) {
        if (!seen.insert(pu).second)
          fail("PU " + std::to_string(pu) + " is listed twice; list each PU once");
        out.push_back(pu);
        if (pu == last) break;
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument(std::string(origin_) + "=\"" + std::string(text_) + "\": " + what);
  }

  // One entry: "N" or "N-M" (blanks allowed around the dash).
  std::pair<unsigned, unsigned> parse_entry(std::string_view entry) const {
    const std::size_t dash = entry.find('-');
    if (dash == std::string_view::npos) {
      const unsigned pu = parse_index(entry, entry);
      return {pu, pu};
    }
    const unsigned first = parse_index(trim(entry.substr(0, dash)), entry);
    const unsigned last = parse_index(trim(entry.substr(dash + 1)), entry);
    if (last < first) {
      fail("range \"" + std::string(entry) +
           "\" is backwards; write the lower index first, such as \"" + std::to_string(last) + "-" +
           std::to_string(first) + "\"");
    }
    return {first, last};
  }

  unsigned parse_index(std::string_view digits, std::string_view entry) const {
    unsigned value = 0;
    const char* begin = digits.data();
    const char* end = digits.data() + digits.size();
    const auto [ptr, ec] = std::from_chars(begin, end, value);
    if (digits.empty() || ec == std::errc::invalid_argument || ptr != end) {
      // Appended, not `"\"" + std::string(entry) + ...`: g++ 12 at -O3 warns
      // -Wrestrict inside std::string on that (a false positive, GCC bug 105329).
      std::string what = "\"";
      what += entry;
      what += "\" is not a PU index or range; ";
      what += syntax_hint;
      fail(what);
    }
    if (ec == std::errc::result_out_of_range || value > max_cpu_list_index) {
      fail("PU index " + std::string(digits) + " is out of range (at most " +
           std::to_string(max_cpu_list_index) + "); " + std::string(syntax_hint));
    }
    return value;
  }

  std::string_view text_;
  std::string_view origin_;
};

}  // namespace

std::vector<unsigned> parse_cpu_list(std::string_view text, std::string_view origin) {
  return list_parser(text, origin).parse();
}

std::string format_cpu_list(std::span<const unsigned> indices) {
  std::string out;
  for (std::size_t i = 0; i < indices.size();) {
    std::size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(indices[i]);
    if (j > i) out += '-' + std::to_string(indices[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace volley::affinity
