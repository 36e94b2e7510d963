#include "common/test_name.h"

#include <exception>
#include <stdexcept>
#include <vector>

namespace attnjit::testing {
namespace {

[[noreturn]] void fail(std::string_view what, std::string_view value, std::string_view why) {
  throw std::invalid_argument(std::string(what) + " '" + std::string(value.substr(0, 200)) + "': " +
                              std::string(why));
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

std::string key_to_test_name(std::string_view key, std::string_view what) {
  if (key.empty() || key.front() == '_' || key.back() == '_' || key.find("__") != std::string_view::npos)
    fail(what, key, "has an empty field ('_' at an end or \"__\"), which would read as a part boundary");
  std::string out(key);
  for (char& ch : out) {
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_') continue;
    if (ch == '-') ch = 'M';
    else if (ch == '.') ch = 'P';
    else fail(what, key, std::string("character '") + ch + "' has no test-name spelling (keys use [a-z0-9_.-])");
  }
  return out;
}

std::string test_name_to_key(std::string_view part, std::string_view what) {
  if (part.empty() || part.front() == '_' || part.back() == '_')
    fail(what, part, "is empty or starts or ends with '_'");
  std::string out(part);
  for (char& ch : out) {
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_') continue;
    if (ch == 'M') ch = '-';
    else if (ch == 'P') ch = '.';
    else fail(what, part, std::string("character '") + ch + "' is not in a test name (only [a-z0-9_MP])");
  }
  return out;
}

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
