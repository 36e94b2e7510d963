// `attnjit push`: publish JSON Lines exports to a running `attnjit serve` (POST /v1/results).
//   attnjit push --server URL [--token-file FILE] [--retry-seconds 300] FILE...
// The token comes from --token-file or $ATTNJIT_TOKEN (writes need it); the server from
// --server or $ATTNJIT_SERVER. A fleet's shards push while the service may be restarting, so an
// unreachable server (refused, timed out, 5xx) or 429 is retried with exponential backoff and
// jitter until --retry-seconds have passed; the server's import is idempotent, so a retry after
// a reply that was lost stores nothing twice. Any other rejection (401, 403, 400) is final:
// exit 2 with the server's message. Exit 1 when the server stayed unreachable.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "cli/command.h"
#include "service/client.h"

namespace attnjit::cli {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct PushArgs {
  std::string server, token_file;
  std::vector<std::string> files;
  double retry_seconds = 300;
  int timeout_ms = 60000;
};

std::string read_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(what + ": cannot open '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw std::runtime_error(what + ": reading '" + path + "' failed");
  return ss.str();
}

std::string token_for(const PushArgs& a) {
  std::string t;
  if (!a.token_file.empty()) {
    t = read_file(a.token_file, "--token-file");
  } else if (const char* e = std::getenv("ATTNJIT_TOKEN")) {
    t = e;
  }
  const char* ws = " \t\r\n";
  const auto b = t.find_first_not_of(ws);
  return b == std::string::npos ? "" : t.substr(b, t.find_last_not_of(ws) - b + 1);
}

// One file, retried while the server is unavailable. Returns the server's reply plus attempts.
json push_one(service::Client& client, const std::string& file, const std::string& body, double retry_s,
              std::mt19937& rng) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(retry_s);
  double delay_s = 0.25;  // doubled after each failure, capped: a restart takes seconds
  for (int attempt = 1;; ++attempt) {
    std::string why;
    try {
      json r = client.post_results(body);
      r["file"] = file;
      r["attempts"] = attempt;
      return r;
    } catch (const service::ServerUnavailable& e) {
      why = e.what();
    } catch (const service::ClientError& e) {
      if (e.status != 429)
        throw UsageError("push " + file + ": server rejected it (" + std::to_string(e.status) + " " + e.code +
                         (e.field.empty() ? "" : ", field " + e.field) + "): " + e.what());
      why = "429 (busy)";
    }
    // Jitter (50..100% of the delay) so shards that failed together do not retry together.
    const double wait_s = delay_s * std::uniform_real_distribution<double>(0.5, 1.0)(rng);
    if (Clock::now() + std::chrono::duration<double>(wait_s) > deadline)
      throw std::runtime_error("push " + file + ": " + why + "; gave up after " + std::to_string(attempt) +
                               " attempts in " + std::to_string(static_cast<int>(retry_s)) + " s");
    std::fprintf(stderr, "attnjit push: %s: %s; retrying in %.1f s (attempt %d)\n", file.c_str(), why.c_str(),
                 wait_s, attempt + 1);
    std::this_thread::sleep_for(std::chrono::duration<double>(wait_s));
    delay_s = std::min(delay_s * 2, 8.0);
  }
}

void run_push(const PushArgs& a) {
  if (a.retry_seconds < 0) throw UsageError("--retry-seconds: must be >= 0");
  if (a.timeout_ms < 1) throw UsageError("--timeout-ms: must be >= 1");
  service::Client::Options o;
  o.server = a.server;
  if (o.server.empty()) {
    const char* env = std::getenv("ATTNJIT_SERVER");
    if (!env || !*env) throw UsageError("--server: not given and $ATTNJIT_SERVER is not set");
    o.server = env;
  }
  o.token = token_for(a);
  if (o.token.empty()) throw UsageError("--token-file: no token (give --token-file or set $ATTNJIT_TOKEN)");
  o.timeout = std::chrono::milliseconds(a.timeout_ms);
  o.connect_timeout = std::chrono::milliseconds(std::min(a.timeout_ms, 2000));
  std::unique_ptr<service::Client> client;
  try {
    client = std::make_unique<service::Client>(o);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--") + e.what());  // "server: expected http://HOST[:PORT], ..."
  }
  // Read every file first: a missing one is a usage error before anything is sent.
  std::vector<std::string> bodies;
  for (const std::string& f : a.files) bodies.push_back(read_file(f, "push"));
  std::mt19937 rng(std::random_device{}());
  json out = json::array();
  for (size_t i = 0; i < a.files.size(); ++i) {
    if (bodies[i].find_first_not_of(" \t\r\n") == std::string::npos) {
      out.push_back({{"file", a.files[i]}, {"lines", 0}, {"stored", 0}, {"kept_existing", 0}, {"attempts", 0}});
      continue;  // an empty export (a shard that stored nothing yet) has nothing to send
    }
    out.push_back(push_one(*client, a.files[i], bodies[i], a.retry_seconds, rng));
  }
  std::cout << json{{"server", o.server}, {"pushed", out}}.dump(2) << std::endl;
}

const RegisterCommand reg("push", [](CLI::App& app) {
  auto a = std::make_shared<PushArgs>();
  auto* c = app.add_subcommand("push", "POST JSON Lines exports to a tuning server, retrying while it is down");
  c->add_option("files", a->files, "JSON Lines files (attnjit db export / tune --jsonl-out)")->required();
  c->add_option("--server", a->server, "server URL (default $ATTNJIT_SERVER)");
  c->add_option("--token-file", a->token_file, "file holding the write token (default $ATTNJIT_TOKEN)");
  c->add_option("--retry-seconds", a->retry_seconds, "keep retrying an unreachable server this long")
      ->capture_default_str();
  c->add_option("--timeout-ms", a->timeout_ms, "read / write timeout of one request")->capture_default_str();
  c->callback([a] { run_push(*a); });
});

}  // namespace
}  // namespace attnjit::cli
