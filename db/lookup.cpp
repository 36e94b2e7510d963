// Lookup with fallbacks: exact -> nearest bucket on this device -> same arch -> default.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <tuple>
#include <vector>

#include "db/database.h"
#include "db/database_impl.h"

namespace attnjit {
namespace {

// The first 11 columns are those read_best() expects; the rest rank bucket candidates.
constexpr const char* kCandidateSelect =
    "SELECT d.fingerprint, d.target, p.key, t.name, t.hash, r.config, r.median_ms, r.tflops,"
    " r.gbps, r.id, b.updated_at_ms, p.seqlen_q, p.seqlen_k, p.group_size, p.even, d.name,"
    " d.sm_count FROM best b"
    " JOIN devices d ON d.id = b.device_id JOIN problems p ON p.id = b.problem_id"
    " JOIN templates t ON t.id = b.template_id JOIN results r ON r.id = b.result_id"
    " WHERE r.status = 'ok' AND p.family = ?2 AND p.dtype = ?3 AND p.head_dim = ?4"
    " AND p.mask_kind = ?5 AND p.window_left = ?6 AND p.window_right = ?7 AND p.page_size = ?8"
    " AND (?9 = '' OR t.hash = ?9)";

struct Candidate {
  BestEntry entry;
  double distance;
  // Ranking, smaller first; every field is deterministic across processes and machines.
  std::tuple<double, double, int, int, int64_t, std::string, std::string, double, std::string> rank;
};

// A tuned problem stands in for another only when the two differ in the bucket fields alone
// (lengths, GQA group, even) or the soft-cap's value: every other field — varlen, paged, ALiBi,
// sinks, fp8 K/V, snippets, block masks — makes a different kernel whose configs need not carry
// over (a dense problem's best config says little about a varlen or fp8 one).
bool same_kernel_variant(const std::string& key, const ProblemSpec& p) {
  try {
    ProblemSpec k = ProblemSpec::parse(key);
    k.seqlen_q = p.seqlen_q;
    k.seqlen_k = p.seqlen_k;
    k.group = p.group;
    k.even = p.even;
    if ((k.softcap == 0) == (p.softcap == 0)) k.softcap = p.softcap;
    return k == p;
  } catch (const SpecError&) {
    return false;
  }
}

double log2_gap(int64_t a, int64_t b) {
  return std::fabs(std::log2(static_cast<double>(a)) - std::log2(static_cast<double>(b)));
}

std::string fmt_distance(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

std::vector<Candidate> candidates(sqlite::Connection& c, const std::string& where_device,
                                  std::string_view device_arg, std::string_view exclude_fp,
                                  const DeviceInfo& me, const ProblemSpec& p,
                                  std::string_view template_hash, std::string_view op) {
  std::string sql = std::string(kCandidateSelect) + " AND " + where_device;
  auto q = c.query(sql, op);
  q.bind(1, device_arg).bind(2, to_string(p.family)).bind(3, to_string(p.dtype));
  q.bind(4, p.head_dim).bind(5, to_string(p.mask.kind)).bind(6, p.mask.window_left);
  q.bind(7, p.mask.window_right).bind(8, p.page_size).bind(9, template_hash);
  if (where_device.find("?10") != std::string::npos) q.bind(10, exclude_fp);
  std::vector<Candidate> out;
  while (q.step()) {
    Candidate cand;
    cand.entry = read_best(q);
    if (!same_kernel_variant(cand.entry.problem, p)) continue;
    int64_t sq = q.i64(11), sk = q.i64(12);
    int group = q.i32(13);
    bool even = q.i64(14) != 0;
    std::string name = q.text(15);
    int sm = q.i32(16);
    cand.distance = log2_gap(sq, p.seqlen_q) + log2_gap(sk, p.seqlen_k);
    cand.rank = {cand.distance,
                 log2_gap(group, p.group),
                 even == p.even ? 0 : 1,
                 name == me.name ? 0 : 1,
                 std::abs(static_cast<int64_t>(sm) - me.sm_count),
                 cand.entry.device,
                 cand.entry.problem,
                 cand.entry.median_ms,
                 cand.entry.template_hash};
    out.push_back(std::move(cand));
  }
  std::sort(out.begin(), out.end(),
            [](const Candidate& a, const Candidate& b) { return a.rank < b.rank; });
  return out;
}

}  // namespace

LookupResult Database::Impl::lookup_locked(const std::string& fp, const DeviceInfo& me,
                                           const ProblemSpec& problem,
                                           std::string_view template_hash) const {
  problem.validate();
  const std::string key = problem.key();
  LookupResult res;
  if (!fp.empty()) {
    auto q = c().query(std::string(kBestSelect) +
                           " AND d.fingerprint = ?1 AND p.key = ?2 AND (?3 = '' OR t.hash = ?3)"
                           " ORDER BY r.median_ms, t.hash LIMIT 1",
                       "lookup: exact");
    q.bind(1, fp).bind(2, key).bind(3, template_hash);
    if (q.step()) {
      res.reason = LookupReason::Exact;
      res.entry = read_best(q);
      res.explanation = "exact: tuned for " + key + " on this device";
      return res;
    }
    auto near = candidates(c(), "d.fingerprint = ?1", fp, {}, me, problem, template_hash,
                           "lookup: nearest bucket");
    if (!near.empty()) {
      res.reason = LookupReason::NearestBucket;
      res.distance = near.front().distance;
      res.entry = std::move(near.front().entry);
      res.explanation = "nearest bucket on this device: tuned for " + res.entry->problem +
                        " (distance " + fmt_distance(res.distance) + ")";
      return res;
    }
  }
  if (!me.target.empty()) {
    auto arch = candidates(c(), "d.target = ?1 AND d.fingerprint <> ?10", me.target, fp, me,
                           problem, template_hash, "lookup: same arch");
    if (!arch.empty()) {
      res.reason = LookupReason::SameArch;
      res.distance = arch.front().distance;
      res.entry = std::move(arch.front().entry);
      res.explanation = "same arch (" + me.target + "): tuned on device " + res.entry->device +
                        " for " + res.entry->problem + " (distance " +
                        fmt_distance(res.distance) + ")";
      return res;
    }
  }
  res.reason = LookupReason::Default;
  res.explanation = "no ok tuning result for " + key + (fp.empty() ? "" : " on this device") +
                    (me.target.empty() ? "" : " or any " + me.target + " device") +
                    "; use the template's default config";
  return res;
}

void Database::Impl::revalidate_cache() const {
  if (cache.capacity() == 0) return;
  // data_version changes only when ANOTHER connection commits; our own writes call wrote().
  auto q = c().query("PRAGMA data_version", "lookup: data_version");
  if (!q.step()) conn.fail("lookup: data_version returned no row", SQLITE_INTERNAL);
  int64_t v = q.i64(0);
  if (v != cache_data_version) {
    cache.clear();
    cache_data_version = v;
  }
}

LookupResult Database::Impl::cached_lookup_locked(const std::string& fp, const DeviceInfo& me,
                                                  const ProblemSpec& problem,
                                                  std::string_view template_hash) const {
  if (cache.capacity() == 0) return lookup_locked(fp, me, problem, template_hash);
  revalidate_cache();
  // The answer depends on the device through its own rows and, for the same-arch ranking, its
  // target, name and SM count: the fingerprint hashes all of them; a target-only query has
  // fp "" and nothing but the target.
  std::string k = LookupCache::key(fp, me.target, problem.key(), template_hash);
  if (const LookupResult* hit = cache.find(k)) return *hit;
  LookupResult r = lookup_locked(fp, me, problem, template_hash);
  cache.put(std::move(k), r);
  return r;
}

LookupResult Database::lookup(const DeviceInfo& device, const ProblemSpec& problem,
                              std::string_view template_hash) const {
  std::string fp = device.fingerprint();
  std::lock_guard lk(impl_->mu);
  return impl_->cached_lookup_locked(fp, device, problem, template_hash);
}

LookupResult Database::lookup(std::string_view device_or_target, const ProblemSpec& problem,
                              std::string_view template_hash) const {
  std::lock_guard lk(impl_->mu);
  if (auto d = impl_->find_device_locked(device_or_target))
    return impl_->cached_lookup_locked(std::string(device_or_target), *d, problem, template_hash);
  const bool looks_like_target =
      device_or_target.rfind("sm_", 0) == 0 || device_or_target.rfind("cpu-", 0) == 0;
  if (looks_like_target) {
    DeviceInfo d;
    d.target = std::string(device_or_target);
    return impl_->cached_lookup_locked({}, d, problem, template_hash);
  }
  const bool looks_like_fp =
      device_or_target.size() == 16 &&
      std::all_of(device_or_target.begin(), device_or_target.end(),
                  [](char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'); });
  if (!looks_like_fp)
    throw SpecError("device: expected a 16-hex-digit fingerprint or a target key (sm_90a, "
                    "cpu-<name>), got '" + std::string(device_or_target) + "'");
  // An unknown fingerprint has no arch to fall back on.
  LookupResult res;
  res.explanation = "unknown device " + std::string(device_or_target) + ": no results for " +
                    problem.key() + "; use the template's default config";
  return res;
}

}  // namespace attnjit
