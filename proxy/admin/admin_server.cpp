#include "proxy/admin/admin_server.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <exception>
#include <map>
#include <string_view>
#include <utility>

#include "metrics/metrics.hpp"
#include "proxy/admin/status/status_json.hpp"
#include "proxy/admin/status/status_page.hpp"
#include "proxy/admin/status/status_text.hpp"
#include "proxy/net/use_tuple.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

// The Prometheus text exposition format, as scrapers expect it announced.
constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kTextContentType = "text/plain; charset=utf-8";
constexpr std::string_view kHtmlContentType = "text/html; charset=utf-8";
constexpr std::string_view kJsonContentType = "application/json";
constexpr std::string_view kScriptContentType = "text/javascript; charset=utf-8";
constexpr std::string_view kStyleContentType = "text/css; charset=utf-8";
// The page loads only its own script, style and JSON; no frame may embed it.
constexpr std::string_view kPagePolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; frame-ancestors 'none'";

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Logs an exception that escaped a coroutine instead of letting co_spawn rethrow it.
void log_if_failed(const char* what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::warn("admin server: {} ended by exception: {}", what, ex.what());
  } catch (...) {
    spdlog::warn("admin server: {} ended by unknown exception", what);
  }
}

Response make_response(http::status status, unsigned version, std::string_view content_type,
                       std::string body) {
  Response res{status, version};
  res.set(http::field::server, "pgdual");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  return res;
}

// Errors of the HTTP parser mean the client sent something we refuse to read
// (as opposed to a closed, reset or timed-out connection): answer before closing.
bool is_request_error(const error_code& ec) {
  static const auto& http_category = http::make_error_code(http::error::bad_target).category();
  return ec.category() == http_category && ec != http::error::end_of_stream &&
         ec != http::error::partial_message && ec != http::error::need_more;
}

http::status status_for_request_error(const error_code& ec) {
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    return http::status::request_header_fields_too_large;
  }
  if (ec == http::error::body_limit) return http::status::payload_too_large;
  return http::status::bad_request;
}

}  // namespace

namespace detail {

struct AdminServerState {
  using Strand = asio::strand<asio::io_context::executor_type>;

  AdminServerState(asio::io_context& io, metrics::Metrics& metrics,
                   std::function<Readiness()> readiness)
      : strand_(asio::make_strand(io)),
        metrics_(metrics),
        readiness_(std::move(readiness)),
        acceptor_(strand_) {}

  // Everything below is touched only on this strand once listen() has started
  // the accept loop, so the admin io_context may run on any number of threads.
  Strand strand_;
  metrics::Metrics& metrics_;
  std::function<Readiness()> readiness_;
  std::function<status::StatusReport()> status_;
  tcp::acceptor acceptor_;
  std::map<std::uint64_t, beast::tcp_stream*> connections_;
  std::uint64_t next_connection_id_ = 0;
  std::atomic<bool> stopped_{false};  // also read by listen() on the caller's thread

  void close_all() {
    stopped_ = true;
    error_code ignored;
    acceptor_.close(ignored);
    for (auto& [id, stream] : connections_) {
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream->close();
    }
  }

  Response respond(const Request& req) const;
};

Response AdminServerState::respond(const Request& req) const {
  const unsigned version = req.version();
  std::string_view target = req.target();
  target = target.substr(0, target.find('?'));  // probes may append a query string

  enum class Endpoint { metrics, healthz, readyz, page, script, style, json, text };
  Endpoint endpoint;
  const bool status_on = static_cast<bool>(status_);
  if (target == "/metrics") {
    endpoint = Endpoint::metrics;
  } else if (target == "/healthz") {
    endpoint = Endpoint::healthz;
  } else if (target == "/readyz") {
    endpoint = Endpoint::readyz;
  } else if (status_on && (target == "/status" || target == "/status/")) {
    endpoint = Endpoint::page;
  } else if (status_on && target == "/status.js") {
    endpoint = Endpoint::script;
  } else if (status_on && target == "/status.css") {
    endpoint = Endpoint::style;
  } else if (status_on && target == "/status.json") {
    endpoint = Endpoint::json;
  } else if (status_on && target == "/status.txt") {
    endpoint = Endpoint::text;
  } else {
    return make_response(http::status::not_found, version, kTextContentType, "not found\n");
  }
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = make_response(http::status::method_not_allowed, version, kTextContentType,
                             "method not allowed\n");
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }

  // serialize() and the readiness callback are outside this file's control: an
  // exception becomes a 500, never an escape from the session.
  try {
    switch (endpoint) {
      case Endpoint::metrics:
        return make_response(http::status::ok, version, kMetricsContentType, metrics_.serialize());
      case Endpoint::healthz:
        return make_response(http::status::ok, version, kTextContentType, "ok\n");
      case Endpoint::readyz: {
        const Readiness readiness =
            readiness_ ? readiness_() : Readiness{false, "no readiness check"};
        if (readiness.ready) {
          return make_response(http::status::ok, version, kTextContentType, "ready\n");
        }
        return make_response(http::status::service_unavailable, version, kTextContentType,
                             readiness.detail + "\n");
      }
      case Endpoint::page:
      case Endpoint::script:
      case Endpoint::style: {
        const bool page = endpoint == Endpoint::page;
        auto res = make_response(
            http::status::ok, version,
            page ? kHtmlContentType
                 : (endpoint == Endpoint::script ? kScriptContentType : kStyleContentType),
            std::string(page ? status::page_html()
                             : (endpoint == Endpoint::script ? status::page_script()
                                                             : status::page_style())));
        res.set("Content-Security-Policy", kPagePolicy);
        res.set(http::field::x_frame_options, "DENY");
        res.set("X-Content-Type-Options", "nosniff");
        return res;
      }
      case Endpoint::json:
        return make_response(http::status::ok, version, kJsonContentType,
                             status::to_json(status_()));
      case Endpoint::text:
        return make_response(http::status::ok, version, kTextContentType,
                             status::to_text(status_()));
    }
  } catch (const std::exception& e) {
    spdlog::warn("admin server: {} failed: {}", target, e.what());
  } catch (...) {
    spdlog::warn("admin server: {} failed", target);
  }
  return make_response(http::status::internal_server_error, version, kTextContentType,
                       "internal error\n");
}

}  // namespace detail

namespace {

using detail::AdminServerState;

// Writes res; for HEAD only its header, with the Content-Length GET would send.
asio::awaitable<error_code> write_response(beast::tcp_stream& stream, Response res,
                                           bool head_only) {
  res.prepare_payload();
  if (!head_only) {
    auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
    co_return ec;
  }
  http::response<http::empty_body> head{std::move(res.base())};
  auto [ec, n] = co_await http::async_write(stream, head, use_tuple);
  co_return ec;
}

// One admin connection: read a request, answer it, repeat while keep-alive.
// The tcp_stream deadline bounds each request (and the idle time before it);
// on expiry Beast closes the socket and the pending operation fails.
asio::awaitable<void> serve_connection(std::shared_ptr<AdminServerState> state,
                                       tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  const std::uint64_t id = state->next_connection_id_++;
  state->connections_.emplace(id, &stream);
  struct Untrack {
    AdminServerState& state;
    std::uint64_t id;
    ~Untrack() { state.connections_.erase(id); }
  } untrack{*state, id};

  // Bounded so a client cannot make us buffer more than one request's worth.
  beast::flat_buffer buffer(AdminServer::kMaxHeaderBytes + AdminServer::kMaxBodyBytes);
  while (!state->stopped_) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(AdminServer::kMaxHeaderBytes);
    parser.body_limit(AdminServer::kMaxBodyBytes);
    stream.expires_after(std::chrono::seconds(AdminServer::kRequestTimeoutSeconds));

    auto [read_ec, read_bytes] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (read_ec) {
      if (is_request_error(read_ec) && !state->stopped_) {
        auto res = make_response(status_for_request_error(read_ec), 11, kTextContentType,
                                 read_ec.message() + "\n");
        res.keep_alive(false);
        co_await write_response(stream, std::move(res), false);
      }
      break;
    }
    if (state->stopped_) break;

    const Request& req = parser.get();
    Response res = state->respond(req);
    res.keep_alive(req.keep_alive());
    const bool keep_alive = res.keep_alive();
    const error_code write_ec =
        co_await write_response(stream, std::move(res), req.method() == http::verb::head);
    if (write_ec || !keep_alive) break;
  }

  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
}

asio::awaitable<void> accept_loop(std::shared_ptr<AdminServerState> state) {
  while (!state->stopped_) {
    auto [ec, socket] = co_await state->acceptor_.async_accept(use_tuple);
    if (state->stopped_ || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // E.g. out of file descriptors: pause rather than spin on the error.
      spdlog::warn("admin server: accept failed: {}", ec.message());
      asio::steady_timer pause(state->strand_, std::chrono::milliseconds(100));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    if (state->connections_.size() >= AdminServer::kMaxConnections) {
      error_code ignored;
      socket.close(ignored);
      continue;
    }
    asio::co_spawn(state->strand_, serve_connection(state, std::move(socket)),
                   [](std::exception_ptr e) { log_if_failed("connection", e); });
  }
}

}  // namespace

AdminServer::AdminServer(asio::io_context& io, metrics::Metrics& metrics,
                         std::function<Readiness()> readiness)
    : state_(std::make_shared<AdminServerState>(io, metrics, std::move(readiness))) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::set_status(std::function<status::StatusReport()> status) {
  state_->status_ = std::move(status);
}

error_code AdminServer::listen(const std::string& host, std::uint16_t port) {
  auto& acceptor = state_->acceptor_;
  if (acceptor.is_open() || state_->stopped_) return asio::error::already_open;

  error_code ec;
  tcp::endpoint endpoint;
  std::string address = host;
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);  // "[::1]" -> "::1"
  }
  if (address.empty()) {
    endpoint = tcp::endpoint(tcp::v4(), port);
  } else if (auto ip = asio::ip::make_address(address, ec); !ec) {
    endpoint = tcp::endpoint(ip, port);
  } else {
    // A host name: resolved once, at start-up, where blocking is acceptable.
    tcp::resolver resolver(state_->strand_);
    auto results = resolver.resolve(address, std::to_string(port), ec);
    if (ec) return ec;
    if (results.empty()) return asio::error::host_not_found;
    endpoint = results.begin()->endpoint();
  }

  if (acceptor.open(endpoint.protocol(), ec); ec) return ec;
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  tcp::endpoint bound;
  if (!ec) bound = acceptor.local_endpoint(ec);
  if (ec) {
    error_code ignored;
    acceptor.close(ignored);
    return ec;
  }
  port_.store(bound.port());

  asio::co_spawn(state_->strand_, accept_loop(state_),
                 [](std::exception_ptr e) { log_if_failed("accept loop", e); });
  return {};
}

void AdminServer::stop() {
  auto state = state_;
  if (state->strand_.running_in_this_thread()) {
    state->close_all();
  } else {
    asio::post(state->strand_, [state] { state->close_all(); });
  }
}

}  // namespace pgdual::proxy
