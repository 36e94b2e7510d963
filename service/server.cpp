#include "service/server.h"

#include <unistd.h>

#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <httplib.h>

#include "service/api.h"
#include "service/api_error.h"
#include "service/conn_stream.h"
#include "service/connection_loop.h"
#include "service/json_depth.h"
#include "service/request_guard.h"
#include "service/response_cache.h"

namespace attnjit::service {

namespace {

// httplib's request processing (parse, route, write) driven by our connection loop.
class EdgeServer : public httplib::Server {
 public:
  bool serve(httplib::Stream& strm, bool close_connection, bool& connection_closed) {
    return process_request(strm, close_connection, connection_closed, setup_);
  }

 private:
  // Range headers were renamed before httplib saw them (ConnStream::neutralize_range_headers);
  // an answer is never cut into byte ranges in any case.
  std::function<void(httplib::Request&)> setup_ = [](httplib::Request& req) { req.ranges.clear(); };
};

thread_local std::chrono::steady_clock::time_point t_request_start;
thread_local bool t_started = false;

void write_json_error(httplib::Response& res, int status, const std::string& code,
                      const std::string& field, const std::string& message) {
  res.status = status;
  // Invalid UTF-8 (from a request value) is replaced, never thrown about mid-response.
  res.set_content(error_json(code, field, message).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

// The connection closes after this response: part of the request (its body) was not read.
void close_after(httplib::Response& res) {
  if (ConnStream* s = ConnStream::current()) s->close_after_response();
  res.set_header("Connection", "close");
}

void refuse(httplib::Response& res, const ApiError& e) {
  write_json_error(res, e.status, e.code, e.field, e.what());
  if (e.retry_after_s > 0) res.set_header("Retry-After", std::to_string(e.retry_after_s));
}

bool declares_body(const httplib::Request& req) {
  if (req.has_header("Transfer-Encoding")) return true;
  if (!req.has_header("Content-Length")) return false;
  auto n = parse_content_length(req.get_header_value("Content-Length"));
  return !n || *n > 0;
}

// The GETs whose answers depend only on the URL and the database.
bool cacheable(const Api::Route& r) {
  return r.method == "GET" && (r.pattern == "/v1/best" || r.pattern == "/v1/results" || r.pattern == "/v1/devices");
}

}  // namespace

struct HttpServer::Impl {
  EdgeServer server;
  std::unique_ptr<ResponseCache> cache;
  int listen_fd = -1;
  std::mutex mu;
  std::unique_ptr<ConnectionLoop> loop;
  std::atomic<bool> stopped{false};

  ~Impl() {
    if (listen_fd >= 0 && !loop) ::close(listen_fd);
  }
};

HttpServer::HttpServer(Api& api, Options options)
    : impl_(std::make_unique<Impl>()), api_(api), opt_(std::move(options)) {
  auto& s = impl_->server;
  if (opt_.response_cache) impl_->cache = std::make_unique<ResponseCache>(api_.db().path(), ResponseCache::Options{});
  s.set_keep_alive_timeout(opt_.keep_alive_timeout_s);
  s.set_keep_alive_max_count(opt_.keep_alive_max_count ? opt_.keep_alive_max_count : 1000000);

  // Everything decided from the head alone, before a body byte is read. False: `res` holds
  // the refusal.
  auto admit = [this](const httplib::Request& req, httplib::Response& res) {
    auto q = req.target.find('?');
    size_t query_bytes = q == std::string::npos ? 0 : req.target.size() - q - 1;
    std::optional<ApiError> err;
    std::map<std::string, std::string> unused;
    bool path_known = false;
    const Api::Route* route = nullptr;
    if (query_bytes > opt_.max_query_bytes) {
      err = ApiError(414, "uri_too_long", "query",
                     "query string longer than " + std::to_string(opt_.max_query_bytes) + " bytes");
    } else if (req.params.size() > opt_.max_params) {
      err = ApiError(414, "uri_too_long", "query", "more than " + std::to_string(opt_.max_params) + " query parameters");
    } else if (!(route = api_.match(req.method, req.path, unused, &path_known))) {
      err = path_known ? ApiError(405, "method_not_allowed", "", req.method.substr(0, 16) + " is not allowed on this path")
                       : ApiError(404, "not_found", "", "no such endpoint (see /v1/health)");
    } else {
      if (route->write) {
        try {
          api_.auth().check(req.get_header_value("Authorization"));
        } catch (const ApiError& e) {
          err = e;
        }
      }
      if (!err) err = check_body_framing(req, route->method != "GET", opt_.max_body_bytes);
    }
    if (!err) return true;
    refuse(res, *err);
    // Whatever body follows was not read: it must not be parsed as the next request.
    if (declares_body(req) || (route && route->method != "GET") || req.method != "GET") close_after(res);
    return false;
  };

  s.set_pre_routing_handler([admit](const httplib::Request& req, httplib::Response& res) {
    t_request_start = std::chrono::steady_clock::now();
    t_started = true;
    return admit(req, res) ? httplib::Server::HandlerResponse::Unhandled : httplib::Server::HandlerResponse::Handled;
  });
  // A client that waits for "100 Continue" before sending its body gets the refusal instead.
  s.set_expect_100_continue_handler([admit](const httplib::Request& req, httplib::Response& res) {
    return admit(req, res) ? 100 : res.status;
  });

  auto dispatch = [this](const httplib::Request& req, httplib::Response& res, std::string body) {
    std::map<std::string, std::string> path_params;
    const Api::Route* route = api_.match(req.method, req.path, path_params);
    if (!route) {  // admitted above, so only if the routes changed meanwhile
      write_json_error(res, 404, "not_found", "", "no such endpoint (see /v1/health)");
      return;
    }
    ResponseCache* cache = cacheable(*route) ? impl_->cache.get() : nullptr;
    ResponseCache::Version version;
    if (cache) {
      version = cache->version();
      if (auto hit = cache->find(req.target, version)) {
        res.status = hit->status;
        res.set_content(hit->body, hit->content_type.c_str());
        if (impl_->stopped) close_after(res);
        return;
      }
    }
    ApiRequest ar;
    ar.method = req.method;
    ar.params = req.params;
    ar.path_params = std::move(path_params);
    ar.body = std::move(body);
    ar.content_type = req.get_header_value("Content-Type");
    ar.authorization = req.get_header_value("Authorization");
    ApiResponse r = api_.call(*route, ar);
    if (r.retry_after_s > 0) res.set_header("Retry-After", std::to_string(r.retry_after_s));
    if (cache && r.status == 200) cache->put(req.target, {r.status, r.content_type, r.body}, version);
    if (route->write && r.status < 300 && impl_->cache) impl_->cache->invalidate();
    res.status = r.status;
    res.set_content(std::move(r.body), r.content_type.c_str());
    if (impl_->stopped) close_after(res);  // stopping: this connection ends with this answer
  };
  auto without_body = [dispatch](const httplib::Request& req, httplib::Response& res) { dispatch(req, res, {}); };
  // Bodies come through our reader (never httplib's, which would also parse a form-encoded body
  // into query parameters): held to max_body_bytes whatever the framing, then depth-checked.
  auto with_body = [this, dispatch](const httplib::Request& req, httplib::Response& res,
                                    const httplib::ContentReader& reader) {
    std::string body;
    bool too_big = false;
    const size_t limit = opt_.max_body_bytes;
    bool ok = reader([&](const char* data, size_t n) {
      if (body.size() + n > limit) {
        too_big = true;
        return false;
      }
      body.append(data, n);
      return true;
    });
    if (!ok) {
      ConnStream* s = ConnStream::current();
      close_after(res);
      if (too_big || (s && s->over_limit()))
        write_json_error(res, 413, "payload_too_large", "body",
                         "body: larger than the server's limit of " + std::to_string(limit) + " bytes");
      else if (s && s->timed_out())
        write_json_error(res, 408, "request_timeout", "body", "body: not received in time");
      else
        write_json_error(res, 400, "bad_request", "body", "body: incomplete or malformed (chunked framing)");
      return;
    }
    if (json_nesting_depth(body, kMaxJsonDepth) > kMaxJsonDepth) {
      write_json_error(res, 400, "too_deep", "body",
                       "body: JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
      return;
    }
    dispatch(req, res, std::move(body));
  };
  s.Get(".*", without_body);
  s.Post(".*", with_body);
  s.Put(".*", with_body);
  s.Patch(".*", with_body);
  s.Delete(".*", with_body);

  // Errors httplib produces itself (malformed request line, a request line over 8 KiB, a
  // method without routes) arrive with an empty body; ours already carry one.
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string msg = res.status == 413 ? "request body larger than the server's limit"
                    : res.status == 414 ? "request line too long"
                                        : "malformed or unsupported request (HTTP " + std::to_string(res.status) + ")";
    std::string field = res.status == 413 ? "body" : res.status == 404 ? "" : "request";
    write_json_error(res, res.status, code_for_status(res.status), field, msg);
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string msg = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      msg = e.what();
    } catch (...) {
    }
    write_json_error(res, 500, "internal", "", msg);
  });

  s.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    double seconds = 0;
    if (t_started) {
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_request_start).count();
      t_started = false;
    }
    std::map<std::string, std::string> unused;
    const Api::Route* route = api_.match(req.method, req.path, unused);
    api_.metrics().observe_request(route ? route->pattern : "unmatched", route ? req.method : "other",
                                   res.status, seconds);
  });
}

HttpServer::~HttpServer() { stop(); }

int HttpServer::default_threads() {
  return std::max(4, 2 * static_cast<int>(std::thread::hardware_concurrency()));
}

int HttpServer::bind() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->listen_fd >= 0) return port_;
  impl_->listen_fd = ConnectionLoop::listen_on(opt_.host, opt_.port, opt_.listen_backlog, &port_);
  return port_;
}

void HttpServer::run() {
  ConnectionLoop* loop;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->listen_fd < 0) throw std::runtime_error("HttpServer::run: bind() first");
    if (impl_->loop) throw std::runtime_error("HttpServer::run: already running");
    ConnectionLoop::Options lo;
    lo.threads = opt_.threads > 0 ? opt_.threads : default_threads();
    lo.max_connections = opt_.max_connections;
    lo.max_head_bytes = opt_.max_head_bytes;
    lo.idle_timeout = std::chrono::seconds(opt_.keep_alive_timeout_s);
    lo.header_timeout = std::chrono::seconds(opt_.header_timeout_s);
    lo.keep_alive_max_count = opt_.keep_alive_max_count;
    // Head, body and chunk framing together; the body alone is held to max_body_bytes.
    lo.request.max_request_bytes = opt_.max_head_bytes + 2 * opt_.max_body_bytes + (1u << 20);
    lo.request.io_timeout = std::chrono::seconds(std::max(opt_.read_timeout_s, opt_.write_timeout_s));
    lo.request.request_timeout = std::chrono::seconds(opt_.request_timeout_s);
    auto* edge = &impl_->server;
    impl_->loop = std::make_unique<ConnectionLoop>(
        impl_->listen_fd, lo,
        [edge](ConnStream& strm, bool close, bool& closed) { return edge->serve(strm, close, closed); });
    if (impl_->stopped) impl_->loop->stop();
    loop = impl_->loop.get();
  }
  loop->run();
}

void HttpServer::stop() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->stopped = true;
  if (impl_->loop) impl_->loop->stop();
}

}  // namespace attnjit::service
