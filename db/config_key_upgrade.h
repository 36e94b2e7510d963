// Config keys from before keys named their template ("bm128_bn64_w4_s2") and their canonical
// form ("sm80_bm128_bn64_w4_s2"). Such a key meant the highest-priority template of the device's
// platform when it was written: sm80 on every GPU (the sm90 template came with named keys), cpu
// on CPUs. Schema v4 rewrites the stored ones and imports rewrite old exports the same way, so a
// database never holds both spellings of one config.
#pragma once

#include <string>
#include <string_view>

#include "db/sqlite_conn.h"

namespace attnjit {

// The canonical key for `config` measured on a device of `device_target` ("sm_80", "sm_90a",
// "cpu-znver3"); a key that names its template, or that is not canonical, comes back unchanged.
// Throws SpecError naming the field for a malformed key.
std::string upgrade_config_key(std::string_view config, std::string_view device_target);

namespace schema {
// The v3 -> v4 pass: every stored result with an old key gets the canonical one. Where the
// canonical key is already stored for the same (device, problem, template) — the same config
// imported twice, once per spelling — the newer measurement is kept and best entries that
// pointed at the dropped row point at the kept one. Returns how many rows it rewrote or merged.
int64_t upgrade_config_keys(sqlite::Connection& c);
}  // namespace schema

}  // namespace attnjit
