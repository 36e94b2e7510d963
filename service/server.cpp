#include "service/server.h"

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <httplib.h>

#include "service/api.h"
#include "service/api_error.h"

namespace attnjit::service {

namespace {

// httplib listens with a compiled-in backlog of 5, so a burst of new connections (64 clients
// starting at once) overflows the accept queue and waits out SYN retransmits (1 s, 3 s, ...).
// Linux lets listen() be called again on a listening socket to raise it.
class TunedServer : public httplib::Server {
 public:
  void raise_backlog(int backlog) {
    if (::listen(svr_sock_, backlog) != 0)
      throw std::runtime_error(std::string("listen(backlog=") + std::to_string(backlog) + "): " +
                               std::strerror(errno));
  }
};

thread_local std::chrono::steady_clock::time_point t_request_start;
thread_local bool t_started = false;

void write_json_error(httplib::Response& res, int status, const std::string& code,
                      const std::string& field, const std::string& message) {
  res.status = status;
  res.set_content(error_json(code, field, message).dump(), "application/json");
}

}  // namespace

struct HttpServer::Impl {
  TunedServer server;
};

HttpServer::HttpServer(Api& api, Options options)
    : impl_(std::make_unique<Impl>()), api_(api), opt_(std::move(options)) {
  auto& s = impl_->server;
  const size_t threads = static_cast<size_t>(std::max(1, opt_.threads));
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_payload_max_length(opt_.max_body_bytes);
  s.set_keep_alive_max_count(std::max<size_t>(1, opt_.keep_alive_max_count));
  s.set_keep_alive_timeout(opt_.keep_alive_timeout_s);
  s.set_read_timeout(opt_.read_timeout_s, 0);
  s.set_write_timeout(opt_.write_timeout_s, 0);
  // Small JSON responses: Nagle would add up to 40 ms to keep-alive round trips.
  s.set_tcp_nodelay(true);

  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    t_request_start = std::chrono::steady_clock::now();
    t_started = true;
    auto q = req.target.find('?');
    size_t query_bytes = q == std::string::npos ? 0 : req.target.size() - q - 1;
    if (query_bytes > opt_.max_query_bytes) {
      write_json_error(res, 414, "uri_too_long", "",
                       "query string longer than " + std::to_string(opt_.max_query_bytes) + " bytes");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.params.size() > opt_.max_params) {
      write_json_error(res, 414, "uri_too_long", "",
                       "more than " + std::to_string(opt_.max_params) + " query parameters");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Every path goes through Api::match, so unknown routes and wrong methods get our JSON.
  auto dispatch = [this](const httplib::Request& req, httplib::Response& res) {
    std::map<std::string, std::string> path_params;
    bool path_known = false;
    const Api::Route* route = api_.match(req.method, req.path, path_params, &path_known);
    if (!route) {
      if (path_known)
        write_json_error(res, 405, "method_not_allowed", "", req.method + " is not allowed on this path");
      else
        write_json_error(res, 404, "not_found", "", "no such endpoint (see /v1/health)");
      return;
    }
    ApiRequest ar;
    ar.method = req.method;
    ar.params = req.params;
    ar.path_params = std::move(path_params);
    ar.body = req.body;
    ar.content_type = req.get_header_value("Content-Type");
    ar.authorization = req.get_header_value("Authorization");
    ApiResponse r = api_.call(*route, ar);
    res.status = r.status;
    res.set_content(std::move(r.body), r.content_type.c_str());
  };
  s.Get(".*", dispatch);
  s.Post(".*", dispatch);
  s.Put(".*", dispatch);
  s.Patch(".*", dispatch);
  s.Delete(".*", dispatch);

  // Errors httplib produces itself (413 body too large, 414, 400 unparsable request) arrive
  // here with an empty body; ours already carry one.
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string msg = res.status == 413 ? "request body larger than the server's limit"
                    : res.status == 414 ? "request line too long"
                                        : "malformed or unsupported request (HTTP " + std::to_string(res.status) + ")";
    write_json_error(res, res.status, code_for_status(res.status), res.status == 413 ? "body" : "", msg);
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

int HttpServer::bind() {
  auto& s = impl_->server;
  if (opt_.port == 0) {
    port_ = s.bind_to_any_port(opt_.host);
    if (port_ < 0) throw std::runtime_error("cannot bind " + opt_.host + " to any port: " + std::strerror(errno));
  } else {
    if (!s.bind_to_port(opt_.host, opt_.port))
      throw std::runtime_error("cannot bind " + opt_.host + ":" + std::to_string(opt_.port) + ": " +
                               std::strerror(errno));
    port_ = opt_.port;
  }
  impl_->server.raise_backlog(opt_.listen_backlog);
  return port_;
}

void HttpServer::run() {
  if (port_ < 0) throw std::runtime_error("HttpServer::run: bind() first");
  impl_->server.listen_after_bind();
}

void HttpServer::stop() { impl_->server.stop(); }

}  // namespace attnjit::service
