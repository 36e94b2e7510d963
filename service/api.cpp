#include "service/api.h"

#include <sqlite3.h>

#include <chrono>
#include <sstream>

#include "api/tuned_config.h"
#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "codegen/problem_spec.h"
#include "codegen/target.h"
#include "codegen/tile_config.h"
#include "db/json_codec.h"
#include "runtime/nvrtc_compiler.h"
#include "service/api_error.h"
#include "service/base64.h"
#include "service/query_params.h"
#include "service/snippet_gate.h"
#include "service/target_key.h"

namespace attnjit::service {

using nlohmann::json;

ApiResponse ApiResponse::json(const nlohmann::json& j, int status) {
  ApiResponse r;
  r.status = status;
  // Replace invalid UTF-8 (e.g. from a compiler log) instead of throwing mid-response.
  r.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

namespace {

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

ProblemSpec parse_problem(const std::string& field, const std::string& value) {
  check_token_chars(field, value);
  try {
    return ProblemSpec::parse(value);
  } catch (const SpecError& e) {
    throw invalid_field(field, field + ": " + e.what());
  }
}

// "sm_90a" | "cpu-<name>" -> Target; SpecError -> 400 naming `field`.
Target target_for(const std::string& field, const std::string& key, const std::string& isa = {}) {
  try {
    return target_from_key(key, isa);
  } catch (const SpecError& e) {
    throw invalid_field(field, field + ": " + e.what());
  }
}

const KernelTemplate& template_for(const ProblemSpec& spec, const Target& target) {
  try {
    return select_template(spec, target);
  } catch (const SpecError& e) {
    throw invalid_field("problem", std::string("problem: not supported on ") + target.key() + ": " + e.what());
  }
}

const std::string& version_hash(const KernelTemplate& t) { return cached_version_hash(t); }

// SpecError messages start with the field at fault ("batch: at most 65535 ..."); a 400 always
// names one, "request" when the message does not.
std::string field_of(const std::string& message) {
  size_t n = 0;
  while (n < message.size() && n < 32 && ((message[n] >= 'a' && message[n] <= 'z') || message[n] == '_')) ++n;
  return n > 0 && n < message.size() && message[n] == ':' ? message.substr(0, n) : "request";
}

bool looks_like_fingerprint(const std::string& s) {
  if (s.size() != 16) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

json geometry_json(const LaunchGeometry& g) {
  return {{"grid", {g.grid[0], g.grid[1], g.grid[2]}},
          {"block", {g.block[0], g.block[1], g.block[2]}},
          {"dynamic_smem", g.dynamic_smem}};
}

json resources_json(const ResourceUsage& r) {
  return {{"registers", r.registers},           {"spill_store_bytes", r.spill_store_bytes},
          {"spill_load_bytes", r.spill_load_bytes}, {"smem_static_bytes", r.smem_static_bytes},
          {"stack_frame_bytes", r.stack_frame_bytes}, {"const_bytes", r.const_bytes}};
}

json parse_json_body(const std::string& body) {
  if (body.empty()) throw ApiError(400, "malformed_json", "body", "body: empty, expected JSON");
  try {
    return json::parse(body);
  } catch (const json::parse_error& e) {
    throw ApiError(400, "malformed_json", "body",
                   "body: malformed JSON at byte " + std::to_string(e.byte));
  }
}

}  // namespace

Api::Api(Options options)
    : opt_(std::move(options)),
      db_(opt_.db_path, opt_.db_readers),
      cubins_(opt_.compile),
      compile_gate_(opt_.max_anonymous_compiles),
      started_unix_ms_(now_unix_ms()) {
  if (!opt_.nvrtc_available) opt_.nvrtc_available = [](std::string* why) { return Nvrtc::available(why); };
  nvrtc_ok_ = opt_.nvrtc_available(&nvrtc_why_);
  JobManager::Options jo;
  jo.command = opt_.tune_command ? opt_.tune_command : [](const TuneRequest&) -> std::vector<std::string> {
    throw std::runtime_error("this server has no tuning command configured");
  };
  jo.job_timeout = opt_.job_timeout;
  jo.db_path = opt_.db_path;  // jobs outlive the process: a restart reports cut-off ones
  jo.on_success = [this](const TuneRequest& r) {
    // What the job produced: the best entries now stored for its problems (every device).
    json best = json::array();
    auto lease = db_.reader();
    for (const auto& p : r.problems) {
      ResultFilter f;
      f.problem = p;
      for (const auto& b : lease->list_best(f)) best.push_back(to_json(b));
    }
    return json{{"best", best}};
  };
  jobs_ = std::make_unique<JobManager>(std::move(jo));
  metrics_.add_gauge("attnjit_jobs", "Tuning jobs by state (queued, running, succeeded, failed, interrupted).",
                     "state", [this] { return jobs_->counts(); });
}

Api::~Api() { shutdown(); }

Target Api::resolve_target(const Database& db, const std::string& field, const std::string& key) {
  if (key.rfind("cpu-", 0) != 0) return target_for(field, key);
  {
    std::shared_lock<std::shared_mutex> lock(devices_mu_);
    auto it = target_isa_.find(key);
    if (it != target_isa_.end()) return target_for(field, key, it->second);
  }
  std::string isa;
  for (const auto& d : db.devices_for_target(key))
    if (!d.isa.empty()) {
      isa = d.isa;
      break;
    }
  if (!isa.empty()) {
    std::unique_lock<std::shared_mutex> lock(devices_mu_);
    if (target_isa_.size() < 10000) target_isa_.emplace(key, isa);
  }
  return target_for(field, key, isa);
}

std::optional<DeviceInfo> Api::find_device(const Database& db, const std::string& fingerprint) {
  {
    std::shared_lock<std::shared_mutex> lock(devices_mu_);
    auto it = devices_.find(fingerprint);
    if (it != devices_.end()) return it->second;
  }
  auto d = db.find_device(fingerprint);
  if (d) {
    std::unique_lock<std::shared_mutex> lock(devices_mu_);
    if (devices_.size() < 100000) devices_.emplace(fingerprint, *d);
  }
  return d;
}

void Api::shutdown() { jobs_->shutdown(); }

const std::vector<Api::Route>& Api::routes() {
  static const std::vector<Route> r = {
      {"GET", "/v1/health", &Api::health, false},
      {"GET", "/v1/devices", &Api::devices, false},
      {"GET", "/v1/best", &Api::best, false},
      {"GET", "/v1/kernel", &Api::kernel, false},
      {"GET", "/v1/results", &Api::results_get, false},
      {"POST", "/v1/results", &Api::results_post, true},
      {"POST", "/v1/tune", &Api::tune, true},
      {"GET", "/v1/jobs/{id}", &Api::job, false},
      {"GET", "/metrics", &Api::metrics_text, false},
  };
  return r;
}

const Api::Route* Api::match(const std::string& method, const std::string& path,
                             std::map<std::string, std::string>& path_params, bool* path_known) const {
  if (path_known) *path_known = false;
  for (const auto& r : routes()) {
    std::map<std::string, std::string> captured;
    auto brace = r.pattern.find('{');
    bool same;
    if (brace == std::string::npos) {
      same = path == r.pattern;
    } else {
      // One trailing "{name}" segment: the rest of the path, no further '/'.
      std::string prefix = r.pattern.substr(0, brace);
      std::string name = r.pattern.substr(brace + 1, r.pattern.size() - brace - 2);
      same = path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
             path.find('/', prefix.size()) == std::string::npos;
      if (same) captured[name] = path.substr(prefix.size());
    }
    if (!same) continue;
    if (r.method != method) {
      if (path_known) *path_known = true;
      continue;
    }
    path_params = std::move(captured);
    return &r;
  }
  return nullptr;
}

ApiResponse Api::call(const Route& route, const ApiRequest& req) {
  try {
    if (route.write) opt_.auth.check(req.authorization);
    return (this->*route.handler)(req);
  } catch (const ApiError& e) {
    ApiResponse r = ApiResponse::json(error_json(e), e.status);
    r.retry_after_s = e.retry_after_s;
    return r;
  } catch (const SpecError& e) {
    return ApiResponse::json(error_json("invalid_parameter", field_of(e.what()), e.what()), 400);
  } catch (const DbError& e) {
    // A busy / locked database is transient: tell clients to retry.
    int primary = e.code & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
      return ApiResponse::json(error_json("unavailable", "", std::string("database busy: ") + e.what()), 503);
    return ApiResponse::json(error_json("database_error", "", e.what()), 500);
  } catch (const std::exception& e) {
    return ApiResponse::json(error_json("internal", "", e.what()), 500);
  }
}

ApiResponse Api::health(const ApiRequest& req) {
  QueryParams q(req.params, {});
  // A reader: the writer's lock may be held by a long import.
  const int schema = db_.reader()->schema_version();
  json j = {{"status", "ok"},
            {"version", ATTNJIT_VERSION},
            {"uptime_s", (now_unix_ms() - started_unix_ms_) / 1000.0},
            {"db", {{"path", db_.path()}, {"schema_version", schema}}},
            {"writes_enabled", opt_.auth.enabled()},
            {"tuning_enabled", static_cast<bool>(opt_.tune_command)},
            {"nvrtc", {{"available", nvrtc_ok_}}},
            {"jobs", jobs_->counts()}};
  if (!nvrtc_ok_) j["nvrtc"]["reason"] = nvrtc_why_;
  return ApiResponse::json(j);
}

ApiResponse Api::devices(const ApiRequest& req) {
  QueryParams q(req.params, {});
  json list = json::array();
  auto lease = db_.reader();
  for (const auto& d : lease->list_devices()) list.push_back(to_json(d));
  return ApiResponse::json({{"devices", list}});
}

ApiResponse Api::best(const ApiRequest& req) {
  QueryParams q(req.params, {"problem", "device"});
  ProblemSpec spec = parse_problem("problem", q.required("problem"));
  const std::string& device = q.required("device");
  check_token_chars("device", device);

  auto lease = db_.reader();
  std::optional<DeviceInfo> info;
  Target target;
  if (looks_like_fingerprint(device)) {
    info = find_device(*lease, device);
    if (!info) throw ApiError(404, "not_found", "device", "device: no device with fingerprint " + device);
    target = target_for("device", info->target, info->isa);
    target.device_name = info->name;
    target.sm_count = info->sm_count;
  } else {
    target = resolve_target(*lease, "device", device);
  }
  const KernelTemplate& tmpl = template_for(spec, target);
  const TunedConfig c = choose_tuned_config(*lease, device, tmpl, spec, target);
  const std::string why(to_string(c.lookup.reason));

  json j = {{"problem", spec.key()},
            {"device", device},
            {"target", target.key()},
            {"template", {{"name", tmpl.name()}, {"hash", version_hash(tmpl)}}},
            {"config", c.config.key()},
            {"why", why},
            {"explanation", c.explanation},
            {"distance", c.lookup.distance},
            {"measured", nullptr},
            {"provenance", nullptr}};
  if (const auto& e = c.lookup.entry) {
    j["measured"] = {{"median_ms", e->median_ms}, {"tflops", e->tflops}, {"gbps", e->gbps}};
    json prov = {{"device", e->device},
                 {"target", e->target},
                 {"tuned_problem", e->problem},
                 {"template_hash", e->template_hash},
                 {"result_id", e->result_id},
                 {"updated_at_ms", e->updated_at_ms}};
    if (auto d = (info && e->device == device) ? info : find_device(*lease, e->device)) {
      prov["device_name"] = d->name;
      prov["driver_version"] = d->driver_version;
      prov["compiler_version"] = d->compiler_version;
    }
    j["provenance"] = std::move(prov);
  }
  return ApiResponse::json(j);
}

ApiResponse Api::kernel(const ApiRequest& req) {
  QueryParams q(req.params, {"problem", "arch", "config", "cubin", "source", "batch", "heads_q",
                             "heads_kv", "seqlen_q", "seqlen_k"});
  ProblemSpec spec = parse_problem("problem", q.required("problem"));
  require_known_snippets(*db_.reader(), spec, "problem");
  const std::string& arch = q.required("arch");
  check_token_chars("arch", arch);
  Target target = resolve_target(*db_.reader(), "arch", arch);
  bool want_cubin = q.boolean("cubin", false);
  bool want_source = q.boolean("source", true);
  if (want_cubin && target.platform != Platform::Cuda)
    throw invalid_field("cubin", "cubin: only GPU archs (sm_*) have a CUBIN; " + arch + " is a CPU target");
  const KernelTemplate& tmpl = template_for(spec, target);

  TileConfig cfg;
  std::string why, explanation;
  if (auto key = q.optional("config")) {
    check_token_chars("config", *key);
    try {
      cfg = TileConfig::parse(*key);
    } catch (const SpecError& e) {
      throw invalid_field("config", std::string("config: ") + e.what());
    }
    if (auto illegal = tmpl.can_implement(spec, cfg, target))
      throw invalid_field("config", "config: " + cfg.key() + " cannot run " + spec.key() + " on " +
                                        target.key() + ": " + *illegal);
    why = "requested";
    explanation = "the config given in the request";
  } else {
    auto lease = db_.reader();
    const TunedConfig c = choose_tuned_config(*lease, target.key(), tmpl, spec, target);
    cfg = c.config;
    why = std::string(to_string(c.lookup.reason));
    explanation = c.explanation;
  }

  // Launch geometry for the caller's run shape; by default one sequence at the bucket lengths.
  RunShape shape;
  const int64_t kMaxDim = int64_t(1) << 31;
  shape.heads_kv = q.integer("heads_kv", 1, 1, 4096);
  shape.heads_q = q.integer("heads_q", shape.heads_kv * spec.group, 1, 4096 * 64);
  shape.batch = q.integer("batch", 1, 1, kMaxDim);
  shape.seqlen_q = q.integer("seqlen_q", spec.seqlen_q, 1, kMaxDim);
  shape.seqlen_k = q.integer("seqlen_k", spec.seqlen_k, 1, kMaxDim);
  if (shape.heads_q % shape.heads_kv != 0 || shape.heads_q / shape.heads_kv != spec.group)
    throw invalid_field("heads_q", "heads_q: must equal heads_kv * " + std::to_string(spec.group) +
                                       " (the problem's GQA group)");

  KernelSource src = tmpl.render(spec, cfg, target);
  LaunchGeometry geo = tmpl.geometry(spec, cfg, target, shape);

  json j = {{"problem", spec.key()},
            {"arch", target.key()},
            {"config", cfg.key()},
            {"why", why},
            {"explanation", explanation},
            {"template", {{"name", tmpl.name()}, {"hash", version_hash(tmpl)}}},
            {"name", src.name},
            {"entry", src.entry},
            {"hash", src.hash},
            {"options", src.options},
            {"geometry",
             {{"shape",
               {{"batch", shape.batch}, {"heads_q", shape.heads_q}, {"heads_kv", shape.heads_kv},
                {"seqlen_q", shape.seqlen_q}, {"seqlen_k", shape.seqlen_k}}},
              {"launch", geometry_json(geo)},
              {"rule", "KernelTemplate::geometry(problem, config, arch, shape); pass batch, heads_q, "
                       "heads_kv, seqlen_q, seqlen_k for your shape"}}}};
  if (want_source) {
    j["source"] = src.text;
    json headers = json::array();
    for (const auto& [name, text] : src.headers) headers.push_back({{"name", name}, {"text", text}});
    j["headers"] = std::move(headers);
  }
  if (want_cubin) {
    if (!nvrtc_ok_)
      throw ApiError(503, "nvrtc_unavailable", "cubin", "cubin: NVRTC is not available on this server: " + nvrtc_why_);
    bool hit = false;
    std::shared_ptr<const CompiledCubin> bin;
    const bool trusted = opt_.auth.accepts(req.authorization);
    try {
      bin = cubins_.get(src, &hit, [&] { return compile_gate_.enter(trusted); });
    } catch (const BackendError& e) {
      throw ApiError(500, "compile_failed", "", e.what());
    }
    if (hit) metrics_.kernel_cache_hit();
    else metrics_.kernel_cache_miss();
    j["cubin"] = {{"base64", base64_encode(bin->cubin)},
                  {"bytes", bin->cubin.size()},
                  {"lowered_name", bin->lowered_name},
                  {"resources", resources_json(bin->resources)},
                  {"compile_ms", bin->compile_ms},
                  {"compiler", bin->compiler},
                  {"cached", hit}};
  }
  return ApiResponse::json(j);
}

ApiResponse Api::results_get(const ApiRequest& req) {
  QueryParams q(req.params, {"device", "target", "problem", "template", "template_name", "config",
                             "status", "family", "dtype", "head_dim", "mask", "seqlen_q", "seqlen_k",
                             "after", "limit"});
  ResultFilter f;
  auto text = [&](const char* name, std::optional<std::string>& out) {
    if (auto v = q.optional(name)) {
      check_token_chars(name, *v);
      out = *v;
    }
  };
  text("device", f.device);
  text("target", f.target);
  text("template", f.template_hash);
  text("template_name", f.template_name);
  if (auto v = q.optional("problem")) f.problem = parse_problem("problem", *v).key();
  if (auto v = q.optional("config")) {
    check_token_chars("config", *v);
    try {
      f.config = TileConfig::parse(*v).key();
    } catch (const SpecError& e) {
      throw invalid_field("config", std::string("config: ") + e.what());
    }
  }
  auto parsed = [&](const char* name, auto parse, auto& out) {
    if (auto v = q.optional(name)) {
      try {
        out = parse(*v);
      } catch (const SpecError& e) {
        throw invalid_field(name, std::string(name) + ": " + e.what());
      }
    }
  };
  parsed("status", [](const std::string& s) { return parse_result_status(s); }, f.status);
  parsed("family", [](const std::string& s) { return parse_family(s); }, f.family);
  parsed("dtype", [](const std::string& s) { return parse_dtype(s); }, f.dtype);
  parsed("mask", [](const std::string& s) { return parse_mask_kind(s); }, f.mask);
  if (q.has("head_dim")) f.head_dim = static_cast<int>(q.integer("head_dim", 0, 1, 1024));
  if (q.has("seqlen_q")) f.seqlen_q = q.integer("seqlen_q", 0, 1, int64_t(1) << 40);
  if (q.has("seqlen_k")) f.seqlen_k = q.integer("seqlen_k", 0, 1, int64_t(1) << 40);
  int64_t after = q.integer("after", 0, 0, INT64_MAX);
  int limit = static_cast<int>(q.integer("limit", 100, 1, 1000));

  auto lease = db_.reader();
  ResultPage page = lease->query_results(f, after, limit);
  json rows = json::array();
  for (const auto& r : page.rows) {
    json row = to_json(r);
    row["id"] = r.id;  // what `after` pages by
    rows.push_back(std::move(row));
  }
  json j = {{"results", rows}, {"next_cursor", nullptr}};
  if (page.next_cursor) j["next_cursor"] = *page.next_cursor;
  return ApiResponse::json(j);
}

ApiResponse Api::results_post(const ApiRequest& req) {
  QueryParams q(req.params, {});
  // JSON Lines as they come from `attnjit export`, or a JSON array of the same objects.
  std::string lines;
  const std::string& body = req.body;
  auto first = body.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) throw ApiError(400, "malformed_json", "body", "body: empty, expected JSON Lines or a JSON array");
  const std::string* input = &body;
  if (body[first] == '[') {
    json arr = parse_json_body(body);
    std::ostringstream o;
    for (size_t i = 0; i < arr.size(); ++i) {
      if (!arr[i].is_object())
        throw invalid_field("body[" + std::to_string(i) + "]", "body[" + std::to_string(i) + "]: expected an object");
      o << arr[i].dump() << "\n";
    }
    lines = o.str();
    input = &lines;
  } else if (body[first] != '{') {
    throw ApiError(400, "malformed_json", "body", "body: expected JSON Lines or a JSON array");
  }
  std::istringstream in(*input);
  ImportStats st;
  try {
    st = db_.writer().import_jsonl(in, "request body");
  } catch (const DbError& e) {
    if (e.code != 0) throw;
    throw ApiError(400, "invalid_body", "body", std::string("body: ") + e.what());
  } catch (const SpecError& e) {
    throw ApiError(400, "invalid_body", "body", std::string("body: ") + e.what());
  }
  return ApiResponse::json({{"lines", st.lines}, {"stored", st.stored}, {"kept_existing", st.kept_existing}});
}

ApiResponse Api::tune(const ApiRequest& req) {
  QueryParams q(req.params, {});
  if (!opt_.tune_command)
    throw ApiError(503, "unavailable", "", "tuning is not enabled on this server");
  json b = parse_json_body(req.body);
  if (!b.is_object()) throw invalid_field("body", "body: expected a JSON object");
  for (const auto& [k, v] : b.items())
    if (k != "problems" && k != "budget") throw unknown_field(k.substr(0, 64), "problems, budget");
  if (!b.contains("problems")) throw missing_field("problems");
  const json& ps = b["problems"];
  if (!ps.is_array() || ps.empty()) throw invalid_field("problems", "problems: expected a non-empty array of problem keys");
  if (ps.size() > opt_.max_tune_problems)
    throw invalid_field("problems", "problems: at most " + std::to_string(opt_.max_tune_problems) + " per job");
  TuneRequest tr;
  for (size_t i = 0; i < ps.size(); ++i) {
    std::string field = "problems[" + std::to_string(i) + "]";
    if (!ps[i].is_string()) throw invalid_field(field, field + ": expected a problem key string");
    const ProblemSpec spec = parse_problem(field, ps[i].get<std::string>());
    // A tuning job's child process has no snippet text to compile (none travels over HTTP).
    if (!spec.score_mod.empty() || !spec.mask_mod.empty())
      throw invalid_field(field, field + ": problems with user snippets are tuned in process (attnjit tune "
                                         "--score-mod/--mask-mod), not by service jobs");
    tr.problems.push_back(spec.key());
  }
  if (b.contains("budget")) {
    const json& bu = b["budget"];
    if (!bu.is_number_integer() || bu.get<int64_t>() < 1 || bu.get<int64_t>() > 100000)
      throw invalid_field("budget", "budget: expected an integer in [1, 100000]");
    tr.budget = bu.get<int>();
  }
  std::string id = jobs_->submit(std::move(tr));
  return ApiResponse::json({{"id", id}, {"state", "queued"}, {"url", "/v1/jobs/" + id}}, 202);
}

ApiResponse Api::job(const ApiRequest& req) {
  QueryParams q(req.params, {});
  auto it = req.path_params.find("id");
  if (it == req.path_params.end()) throw missing_field("id");
  check_token_chars("id", it->second);
  auto info = jobs_->get(it->second);
  if (!info) throw ApiError(404, "not_found", "id", "id: no job " + it->second);
  return ApiResponse::json(info->to_json());
}

ApiResponse Api::metrics_text(const ApiRequest& req) {
  QueryParams q(req.params, {});
  ApiResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics_.render();
  return r;
}

}  // namespace attnjit::service
