#include "codegen/snippet.h"

#include <map>
#include <mutex>
#include <vector>

#include "codegen/sha256.h"

namespace attnjit {
namespace {

std::vector<std::string_view> lines_of(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string_view::npos) nl = s.size();
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

struct Store {
  std::mutex mu;
  std::map<std::string, std::string, std::less<>> texts;
};
Store& store() {
  static Store s;
  return s;
}

}  // namespace

std::string normalize_snippet(std::string_view text, std::string_view field) {
  std::string unix;
  unix.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\0') throw SpecError(std::string(field) + ": a snippet may not contain NUL bytes");
    if (text[i] == '\r') {
      unix += '\n';
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      unix += text[i];
    }
  }
  std::vector<std::string> lines;
  for (std::string_view l : lines_of(unix)) {
    size_t end = l.size();
    while (end > 0 && (l[end - 1] == ' ' || l[end - 1] == '\t' || l[end - 1] == '\v' || l[end - 1] == '\f')) --end;
    lines.emplace_back(l.substr(0, end));
  }
  size_t first = 0, last = lines.size();
  while (first < last && lines[first].empty()) ++first;
  while (last > first && lines[last - 1].empty()) --last;
  if (first == last) throw SpecError(std::string(field) + ": the snippet is empty");
  std::string out;
  for (size_t i = first; i < last; ++i) {
    if (i > first) out += '\n';
    out += lines[i];
  }
  if (out.size() > kMaxSnippetBytes)
    throw SpecError(std::string(field) + ": a snippet is at most " + std::to_string(kMaxSnippetBytes) +
                    " bytes, got " + std::to_string(out.size()));
  return out;
}

std::string snippet_hash(std::string_view text) { return sha256_hex(normalize_snippet(text)).substr(0, 16); }

std::string register_snippet(std::string_view text, std::string_view field) {
  std::string norm = normalize_snippet(text, field);
  std::string hash = sha256_hex(norm).substr(0, 16);
  Store& s = store();
  std::lock_guard<std::mutex> lock(s.mu);
  s.texts.emplace(hash, std::move(norm));
  return hash;
}

std::optional<std::string> find_snippet(std::string_view hash) {
  Store& s = store();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.texts.find(hash);
  if (it == s.texts.end()) return std::nullopt;
  return it->second;
}

std::string snippet_text(std::string_view field, std::string_view hash) {
  if (auto t = find_snippet(hash)) return *t;
  throw SpecError(std::string(field) + ": snippet " + std::string(hash.substr(0, 40)) +
                  " is unknown here; pass its text (--score-mod / --mask-mod FILE, the API's "
                  "score_mod / mask_mod) or import a database that holds it");
}

std::string user_mods_struct(std::string_view score_mod_text, std::string_view mask_mod_text) {
  // The prelude after a snippet continues under its own file name, so its own lines are never
  // attributed to the user.
  std::string s =
      "namespace attnjit_gen {\n"
      "struct UserMods : attnjit::variants::UserModsBase {\n"
      "  enum : bool { kScoreMod = " + std::string(score_mod_text.empty() ? "false" : "true") +
      ", kMaskMod = " + (mask_mod_text.empty() ? "false" : "true") + " };\n";
  if (!score_mod_text.empty())
    s += "  template <class Score>\n"
         "  ATTNJIT_HD Score score_mod(Score score, int b, int h, int q_idx, int kv_idx) const {\n"
         "#line 1 \"score_mod\"\n" + std::string(score_mod_text) + "\n"
         "#line 1 \"attnjit_user_mods\"\n  }\n";
  if (!mask_mod_text.empty())
    s += "  ATTNJIT_HD bool mask_mod(int b, int h, int q_idx, int kv_idx) const {\n"
         "#line 1 \"mask_mod\"\n" + std::string(mask_mod_text) + "\n"
         "#line 1 \"attnjit_user_mods\"\n  }\n";
  s += "};\n}  // namespace attnjit_gen\n";
  return s;
}

std::optional<std::string> explain_snippet_errors(std::string_view log, std::string_view score_mod_text,
                                                  std::string_view mask_mod_text) {
  std::string out;
  int found = 0;
  for (std::string_view line : lines_of(log)) {
    for (auto [name, text] : {std::pair{std::string_view("score_mod"), score_mod_text},
                              std::pair{std::string_view("mask_mod"), mask_mod_text}}) {
      if (text.empty() || line.substr(0, name.size()) != name || line.size() <= name.size()) continue;
      // clang: "score_mod:3:10: error: ..."; NVRTC: "score_mod(3): error: ...".
      const char sep = line[name.size()];
      if (sep != ':' && sep != '(') continue;
      size_t i = name.size() + 1, n = 0, digits = 0;
      while (i < line.size() && line[i] >= '0' && line[i] <= '9' && digits < 9) n = n * 10 + (line[i++] - '0'), ++digits;
      if (digits == 0) continue;
      size_t msg = line.find(": ", i);
      if (msg == std::string_view::npos) continue;
      std::string_view what = line.substr(msg + 2);
      if (what.substr(0, 5) == "note:") continue;  // keep errors (and warnings) only
      const auto src = lines_of(text);
      if (++found > 3) continue;
      out += (out.empty() ? "" : "\n") + std::string(name) + " line " + std::to_string(n) + ": " +
             std::string(what.substr(0, 300));
      if (n >= 1 && n <= src.size())
        out += "\n    " + std::to_string(n) + " | " + std::string(src[n - 1].substr(0, 200));
    }
  }
  if (found == 0) return std::nullopt;
  return out;
}

}  // namespace attnjit
