#include "common/test_name.h"

#include <algorithm>
#include <exception>
#include <iterator>
#include <utility>
#include <stdexcept>
#include <vector>

namespace attnjit::testing {
namespace {

[[noreturn]] void fail(std::string_view what, std::string_view value, std::string_view why) {
  throw std::invalid_argument(std::string(what) + " '" + std::string(value.substr(0, 200)) + "': " +
                              std::string(why));
}

// The spellings: a key character GoogleTest refuses, and the capital that writes it in a name.
constexpr std::pair<char, char> kSpellings[] = {{'-', 'M'}, {'.', 'P'}};

// Rewrites `in` through kSpellings, key to name (`to_name`) or back; [a-z0-9_] stay as they are.
// A key or part with an empty field would read as a part boundary ("__") or lose a '_'.
std::string respell(std::string_view in, bool to_name, std::string_view what) {
  if (in.empty() || in.front() == '_' || in.back() == '_' || in.find("__") != std::string_view::npos)
    fail(what, in, "is empty or has an empty field ('_' at an end, or \"__\")");
  std::string out(in);
  for (char& ch : out) {
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_') continue;
    const auto* it = std::find_if(std::begin(kSpellings), std::end(kSpellings),
                                  [&](const auto& sp) { return (to_name ? sp.first : sp.second) == ch; });
    if (it == std::end(kSpellings))
      fail(what, in, std::string("character '") + ch +
                         (to_name ? "' has no test-name spelling (keys use [a-z0-9_.-])"
                                  : "' is not in a test name (only [a-z0-9_MP])"));
    ch = to_name ? it->second : it->first;
  }
  return out;
}

// The slots of a name, in their order; a part's slot is the first one (from `from` on) whose
// parser accepts it, so the inverse needs no markers.
enum Slot { kProblem, kShape, kConfig, kBackend, kDetail };

template <class F>
bool parses(F&& f) {
  try {
    f();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

Slot classify(const std::string& key, int from) {
  if (from <= kProblem && parses([&] { ProblemSpec::parse(key); })) return kProblem;
  if (from <= kShape && parses([&] { RunShape::parse(key); })) return kShape;
  if (from <= kConfig && parses([&] { TileConfig::parse(key); })) return kConfig;
  if (from <= kBackend && parses([&] { parse_backend_kind(key); })) return kBackend;
  return kDetail;
}

}  // namespace

std::string key_to_test_name(std::string_view key, std::string_view what) { return respell(key, true, what); }

std::string test_name_to_key(std::string_view part, std::string_view what) { return respell(part, false, what); }

std::string test_name(const TestCaseName& n) {
  std::vector<std::string> parts;
  if (n.problem) parts.push_back(key_to_test_name(n.problem->key(), "problem key"));
  if (n.shape) parts.push_back(key_to_test_name(n.shape->key(), "run shape key"));
  if (n.config) parts.push_back(key_to_test_name(n.config->key(), "config key"));
  if (n.backend) parts.emplace_back(to_string(*n.backend));
  if (!n.detail.empty()) {
    parts.push_back(key_to_test_name(n.detail, "test detail"));
    if (classify(n.detail, kProblem) != kDetail)
      fail("test detail", n.detail, "reads as a key or a backend; name that part by its own field");
  }
  if (parts.empty()) throw std::invalid_argument("test name: every part is absent");
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) out += "__" + parts[i];
  return out;
}

TestCaseName parse_test_name(std::string_view name) {
  std::vector<std::string_view> parts;
  for (size_t at = 0;;) {
    const size_t sep = name.find("__", at);
    parts.push_back(name.substr(at, sep == std::string_view::npos ? sep : sep - at));
    if (sep == std::string_view::npos) break;
    at = sep + 2;
  }
  TestCaseName n;
  int from = kProblem;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string key = test_name_to_key(parts[i]);
    const Slot slot = classify(key, from);
    switch (slot) {
      case kProblem: n.problem = ProblemSpec::parse(key); break;
      case kShape: n.shape = RunShape::parse(key); break;
      case kConfig: n.config = TileConfig::parse(key); break;
      case kBackend: n.backend = parse_backend_kind(key); break;
      case kDetail:
        if (i + 1 != parts.size())
          fail("test name part", parts[i], "is no key in its place and not the last part (the detail)");
        n.detail = key;
        break;
    }
    from = slot + 1;
  }
  // Keys that parse but are not canonical (another field order, "sc30.50") would name another case.
  if (const std::string again = test_name(n); again != name)
    fail("test name", name, "is not canonical: its parts write back as '" + again + "'");
  return n;
}

}  // namespace attnjit::testing
