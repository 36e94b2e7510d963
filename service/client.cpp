#include "service/client.h"

#include <list>
#include <regex>

#include <httplib.h>

#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "service/base64.h"

namespace attnjit::service {

using nlohmann::json;

namespace {

std::string query_key(const std::string& path, const std::map<std::string, std::string>& params) {
  std::string k = path;
  char sep = '?';
  for (const auto& [n, v] : params) {  // std::map: sorted, so the key is stable
    k += sep + n + "=" + v;
    sep = '&';
  }
  return k;
}

[[noreturn]] void throw_for_status(const httplib::Response& r) {
  std::string code = "http_" + std::to_string(r.status), field, message = "HTTP " + std::to_string(r.status);
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const json& e = j["error"];
    code = e.value("code", code);
    field = e.value("field", "");
    message = e.value("message", message);
  }
  if (r.status >= 500) throw ServerUnavailable("server error " + std::to_string(r.status) + ": " + message);
  throw ClientError(r.status, code, field, message);
}

std::string describe(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection: return "cannot connect (refused or no route)";
    case httplib::Error::ConnectionTimeout: return "connect timed out";
    case httplib::Error::Read: return "no reply (read failed or timed out)";
    case httplib::Error::Write: return "sending the request failed";
    default: return httplib::to_string(e);
  }
}

json parse_reply(const httplib::Response& r) {
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) throw ClientError(r.status, "bad_reply", "", "server reply is not JSON");
  return j;
}

}  // namespace

struct Client::Impl {
  std::unique_ptr<httplib::Client> http;
  std::mutex http_mu;  // one connection; requests take turns

  std::mutex cache_mu;
  struct Cached {
    json value;
    std::chrono::steady_clock::time_point at;
    std::list<std::string>::iterator pos;
  };
  std::map<std::string, Cached> cache;
  std::list<std::string> lru;  // front = most recent
};

Client::Client(Options options) : impl_(std::make_unique<Impl>()), opt_(std::move(options)) {
  static const std::regex kUrl(R"(^(https?)://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?/?$)");
  if (!std::regex_match(opt_.server, kUrl))
    throw std::invalid_argument("server: expected http://HOST[:PORT], got '" + opt_.server + "'");
  std::string base = opt_.server;
  if (base.back() == '/') base.pop_back();
  impl_->http = std::make_unique<httplib::Client>(base);
  if (!impl_->http->is_valid()) throw std::invalid_argument("server: cannot use '" + opt_.server + "'");
  auto& h = *impl_->http;
  h.set_keep_alive(true);
  h.set_connection_timeout(opt_.connect_timeout);
  h.set_read_timeout(opt_.timeout);
  h.set_write_timeout(opt_.timeout);
  if (!opt_.token.empty()) h.set_bearer_token_auth(opt_.token);
}

Client::~Client() = default;

void Client::clear_cache() {
  std::lock_guard<std::mutex> lock(impl_->cache_mu);
  impl_->cache.clear();
  impl_->lru.clear();
}

json Client::get_json(const std::string& path, const std::map<std::string, std::string>& params,
                      bool use_cache, bool* from_cache) {
  if (from_cache) *from_cache = false;
  const std::string key = query_key(path, params);
  auto now = std::chrono::steady_clock::now();
  if (use_cache) {
    std::lock_guard<std::mutex> lock(impl_->cache_mu);
    auto it = impl_->cache.find(key);
    if (it != impl_->cache.end()) {
      if (now - it->second.at <= opt_.cache_ttl) {
        impl_->lru.splice(impl_->lru.begin(), impl_->lru, it->second.pos);
        if (from_cache) *from_cache = true;
        return it->second.value;
      }
      impl_->lru.erase(it->second.pos);
      impl_->cache.erase(it);
    }
  }
  httplib::Params hp(params.begin(), params.end());
  std::unique_lock<std::mutex> http_lock(impl_->http_mu);
  httplib::Result res = impl_->http->Get(path, hp, httplib::Headers{});
  http_lock.unlock();
  if (!res) throw ServerUnavailable(opt_.server + " unreachable: " + describe(res.error()));
  if (res->status != 200) throw_for_status(*res);
  json j = parse_reply(*res);
  if (use_cache) {
    std::lock_guard<std::mutex> lock(impl_->cache_mu);
    if (!impl_->cache.count(key)) {
      impl_->lru.push_front(key);
      impl_->cache.emplace(key, Impl::Cached{j, now, impl_->lru.begin()});
      while (impl_->cache.size() > std::max<size_t>(1, opt_.cache_entries)) {
        impl_->cache.erase(impl_->lru.back());
        impl_->lru.pop_back();
      }
    }
  }
  return j;
}

json Client::post_json(const std::string& path, const std::string& body, const std::string& content_type) {
  std::unique_lock<std::mutex> http_lock(impl_->http_mu);
  httplib::Result res = impl_->http->Post(path, body, content_type.c_str());
  http_lock.unlock();
  if (!res) throw ServerUnavailable(opt_.server + " unreachable: " + describe(res.error()));
  if (res->status / 100 != 2) throw_for_status(*res);
  return parse_reply(*res);
}

BestConfig Client::best(const ProblemSpec& problem, const Target& target, const std::string& device) {
  BestConfig b;
  b.problem = problem.key();
  b.target = target.key();
  try {
    json j = get_json("/v1/best", {{"problem", b.problem}, {"device", device.empty() ? b.target : device}},
                      true, &b.from_cache);
    b.config = TileConfig::parse(j.at("config").get<std::string>());
    b.why = j.at("why").get<std::string>();
    b.explanation = j.value("explanation", "");
    b.template_name = j.at("template").at("name").get<std::string>();
    b.template_hash = j.at("template").at("hash").get<std::string>();
    b.measured = j.value("measured", json());
    b.from_server = true;
    return b;
  } catch (const ServerUnavailable& e) {
    b.fallback_reason = e.what();
  } catch (const json::exception& e) {
    throw ClientError(200, "bad_reply", "", std::string("unexpected /v1/best reply: ") + e.what());
  }
  const KernelTemplate& t = select_template(problem, target);
  b.config = t.default_config(problem, target);
  b.why = "default";
  b.explanation = "local default: " + b.fallback_reason;
  b.template_name = std::string(t.name());
  b.template_hash = t.version_hash();
  return b;
}

KernelArtifact Client::kernel(const ProblemSpec& problem, const Target& target,
                              std::optional<TileConfig> config, bool want_cubin) {
  KernelArtifact k;
  k.problem = problem.key();
  k.arch = target.key();
  std::map<std::string, std::string> params = {{"problem", k.problem}, {"arch", k.arch}};
  if (config) params["config"] = config->key();
  if (want_cubin) params["cubin"] = "1";
  try {
    json j = get_json("/v1/kernel", params, true, &k.from_cache);
    k.config = TileConfig::parse(j.at("config").get<std::string>());
    k.why = j.at("why").get<std::string>();
    k.explanation = j.value("explanation", "");
    k.source.platform = target.platform;
    k.source.name = j.at("name").get<std::string>();
    k.source.text = j.value("source", "");
    for (const auto& h : j.value("headers", json::array()))
      k.source.headers.emplace_back(h.at("name").get<std::string>(), h.at("text").get<std::string>());
    k.source.entry = j.at("entry").get<std::string>();
    k.source.options = j.at("options").get<std::vector<std::string>>();
    k.source.arch = target.arch;
    k.source.hash = j.at("hash").get<std::string>();
    const json& g = j.at("geometry").at("launch");
    for (int i = 0; i < 3; ++i) {
      k.geometry.grid[i] = g.at("grid").at(i).get<unsigned>();
      k.geometry.block[i] = g.at("block").at(i).get<unsigned>();
    }
    k.geometry.dynamic_smem = g.at("dynamic_smem").get<unsigned>();
    if (j.contains("cubin")) {
      k.cubin = base64_decode(j["cubin"].at("base64").get<std::string>());
      k.lowered_name = j["cubin"].at("lowered_name").get<std::string>();
    }
    k.from_server = true;
    return k;
  } catch (const ServerUnavailable& e) {
    k.fallback_reason = e.what();
  } catch (const json::exception& e) {
    throw ClientError(200, "bad_reply", "", std::string("unexpected /v1/kernel reply: ") + e.what());
  } catch (const std::invalid_argument& e) {  // base64
    throw ClientError(200, "bad_reply", "", std::string("unexpected /v1/kernel reply: ") + e.what());
  }
  // Unreachable server: render locally (codegen needs no server), with the default config
  // unless the caller named one.
  const KernelTemplate& t = select_template(problem, target);
  k.config = config ? *config : t.default_config(problem, target);
  k.why = config ? "requested" : "default";
  k.explanation = "rendered locally: " + k.fallback_reason;
  k.source = t.render(problem, k.config, target);
  RunShape shape;
  shape.heads_q = problem.group;
  shape.seqlen_q = problem.seqlen_q;
  shape.seqlen_k = problem.seqlen_k;
  k.geometry = t.geometry(problem, k.config, target, shape);
  return k;
}

json Client::health() { return get_json("/v1/health", {}, false, nullptr); }

json Client::results(const std::map<std::string, std::string>& filters) {
  return get_json("/v1/results", filters, false, nullptr);
}

json Client::post_results(const std::string& jsonl) {
  return post_json("/v1/results", jsonl, "application/x-ndjson");
}

json Client::tune(const std::vector<std::string>& problems, int budget) {
  json body = {{"problems", problems}};
  if (budget > 0) body["budget"] = budget;
  return post_json("/v1/tune", body.dump(), "application/json");
}

json Client::job(const std::string& id) { return get_json("/v1/jobs/" + id, {}, false, nullptr); }

}  // namespace attnjit::service
