#include "codegen/tile_config.h"

#include "codegen/parse_util.h"
#include "codegen/types.h"

namespace attnjit {

std::string TileConfig::key() const {
  std::string k = (tmpl.empty() ? "" : tmpl + "_") + "bm" + std::to_string(block_m) + "_bn" + std::to_string(block_n) + "_w" +
                  std::to_string(warps) + "_s" + std::to_string(stages);
  if (splits) k += "_sp" + std::to_string(splits);
  if (vec) k += "_v" + std::to_string(vec);
  if (threads) k += "_t" + std::to_string(threads);
  if (order) k += "_o" + std::to_string(order);
  if (warpgroups) k += "_wg" + std::to_string(warpgroups);
  if (pingpong) k += "_pp" + std::to_string(pingpong);
  if (overlap) k += "_ov" + std::to_string(overlap);
  if (persistent) k += "_ps" + std::to_string(persistent);
  return k;
}

TileConfig TileConfig::parse(std::string_view key) {
  auto toks = detail::split(key, '_');
  TileConfig c;
  // A leading token of letters and digits that is not a knob names the template.
  if (!toks.empty() && !toks[0].empty() && toks[0].substr(0, 2) != "bm") {
    const std::string_view t = toks[0];
    const bool ok = t.size() <= 16 && t[0] >= 'a' && t[0] <= 'z' &&
                    t.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") == std::string_view::npos;
    if (!ok)
      throw SpecError("config key: template name must be [a-z][a-z0-9]* (at most 16), got '" +
                      std::string(t.substr(0, 32)) + "'");
    c.tmpl = std::string(t);
    toks.erase(toks.begin());
  }
  if (toks.size() < 4)
    throw SpecError("config key: expected bm<M>_bn<N>_w<W>_s<S>[_sp..][_v..][_t..][_o..][_wg..][_pp..][_ov..][_ps..], got '" +
                    std::string(key.substr(0, 80)) + "'");
  int64_t v = 0;
  auto req = [&](size_t i, std::string_view prefix, std::string_view field, int& out) {
    if (!detail::take_prefixed(toks[i], prefix, field, v))
      throw SpecError(std::string(field) + ": expected '" + std::string(prefix) + "<n>', got '" +
                      std::string(toks[i]) + "'");
    if (v < 1 || v > 4096)
      throw SpecError(std::string(field) + ": must be in 1..4096, got " + std::to_string(v));
    out = static_cast<int>(v);
  };
  req(0, "bm", "block_m", c.block_m);
  req(1, "bn", "block_n", c.block_n);
  req(2, "w", "warps", c.warps);
  req(3, "s", "stages", c.stages);
  // Optional knobs, in canonical order; each at most once.
  struct Opt { std::string_view prefix, field; int* out; };
  Opt opts[] = {{"sp", "splits", &c.splits}, {"v", "vec", &c.vec}, {"t", "threads", &c.threads},
                {"o", "order", &c.order}, {"wg", "warpgroups", &c.warpgroups},
                {"pp", "pingpong", &c.pingpong}, {"ov", "overlap", &c.overlap}, {"ps", "persistent", &c.persistent}};
  size_t next = 0;
  for (size_t i = 4; i < toks.size(); ++i) {
    bool matched = false;
    for (size_t j = next; j < std::size(opts) && !matched; ++j) {
      // "v" must not swallow other prefixes; all prefixes are followed by a digit.
      auto t = toks[i];
      if (t.substr(0, opts[j].prefix.size()) == opts[j].prefix && t.size() > opts[j].prefix.size() &&
          t[opts[j].prefix.size()] >= '0' && t[opts[j].prefix.size()] <= '9') {
        v = detail::parse_int(opts[j].field, t.substr(opts[j].prefix.size()));
        if (v < 1 || v > 4096)
          throw SpecError(std::string(opts[j].field) + ": must be in 1..4096, got " + std::to_string(v));
        *opts[j].out = static_cast<int>(v);
        next = j + 1;
        matched = true;
      }
    }
    if (!matched)
      throw SpecError("config key: unexpected or out-of-order field '" + std::string(toks[i]) +
                      "' in '" + std::string(key.substr(0, 80)) + "'");
  }
  return c;
}

}  // namespace attnjit
