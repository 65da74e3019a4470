// metrics::Metrics, AdminServer and BackendProbe, exercised over real loopback sockets:
// the server runs on its own io_context thread, the test is a blocking Beast
// HTTP client.

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "metrics/metrics.hpp"
#include "proxy/admin/admin_server.hpp"
#include "proxy/admin/backend_probe.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace pgdual;
using namespace pgdual::proxy;
using namespace std::chrono_literals;

namespace {

// An io_context running on its own thread for the lifetime of the object.
class IoThread {
 public:
  IoThread() : guard_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~IoThread() {
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  asio::io_context& io() { return io_; }
  // Runs fn on the io thread and waits for it.
  void run_on(std::function<void()> fn) {
    std::promise<void> done;
    asio::post(io_, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

struct Reply {
  unsigned status = 0;
  std::string content_type;
  std::string body;
  bool keep_alive = false;
};

tcp::socket connect_to(asio::io_context& io, std::uint16_t port) {
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  return socket;
}

Reply exchange(tcp::socket& socket, http::verb method, const std::string& target,
               bool keep_alive = false) {
  http::request<http::empty_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.keep_alive(keep_alive);
  http::write(socket, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.skip(method == http::verb::head);
  http::read(socket, buffer, parser);
  const auto& res = parser.get();
  return Reply{res.result_int(), std::string(res[http::field::content_type]), res.body(),
               res.keep_alive()};
}

Reply fetch(std::uint16_t port, const std::string& target, http::verb method = http::verb::get) {
  asio::io_context client_io;
  auto socket = connect_to(client_io, port);
  return exchange(socket, method, target);
}

// A port that nothing listens on: bind one, note it, close it.
std::uint16_t closed_port() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("Metrics serializes every family with its pre-created series", "[metrics]") {
  metrics::Metrics metrics("1.2.3");
  metrics.client_connections_rejected(metrics::RejectReason::auth_failed).Increment();
  metrics.backend(metrics::BackendRole::new_backend).queries(metrics::QueryKind::ddl).Increment(3);
  metrics.backend(metrics::BackendRole::old_backend).query_duration->Observe(0.0003);
  metrics.backend(metrics::BackendRole::new_backend).writes_error->Increment();
  metrics.tls_handshakes_failed(metrics::TlsSide::backend).Increment();
  metrics.record_config_reload(true);
  metrics.routing_decisions(metrics::RoutingDecision::shadow).Increment();

  const std::string text = metrics.serialize();
  CHECK(contains(text, "pgdual_build_info{version=\"1.2.3\"} 1"));
  CHECK(contains(text, "pgdual_client_connections_rejected_total{reason=\"auth_failed\"} 1"));
  CHECK(contains(text, "pgdual_client_connections_rejected_total{reason=\"shutting_down\"} 0"));
  CHECK(contains(text, "pgdual_backend_queries_total{backend=\"new\",kind=\"ddl\"} 3"));
  CHECK(contains(text, "pgdual_backend_queries_total{backend=\"old\",kind=\"unknown\"} 0"));
  CHECK(contains(text,
                 "pgdual_backend_query_duration_seconds_bucket{backend=\"old\",le=\"0.00025\"} 0"));
  CHECK(contains(text,
                 "pgdual_backend_query_duration_seconds_bucket{backend=\"old\",le=\"0.0005\"} 1"));
  CHECK(contains(text, "pgdual_writes_total{backend=\"new\",result=\"error\"} 1"));
  CHECK(contains(text, "pgdual_tls_handshakes_total{result=\"failed\",side=\"backend\"} 1"));
  CHECK(contains(text, "pgdual_config_reloads_total{result=\"ok\"} 1"));
  CHECK(contains(text, "pgdual_routing_decisions_total{decision=\"shadow\"} 1"));
  CHECK(contains(text, "# HELP pgdual_secondary_lag_seconds "));
  CHECK(contains(text, "# TYPE pgdual_write_duration_seconds histogram"));
  CHECK(contains(text, "pgdual_secondary_failures_total{type=\"rejected_by_secondary_only\"} 0"));
  for (const char* name :
       {"pgdual_client_connections ", "pgdual_client_connections_total ",
        "pgdual_client_bytes_received_total ", "pgdual_client_bytes_sent_total ",
        "pgdual_backend_connections{", "pgdual_backend_connect_errors_total{",
        "pgdual_backend_bytes_sent_total{", "pgdual_backend_bytes_received_total{",
        "pgdual_config_last_reload_success_timestamp_seconds ", "pgdual_protocol_errors_total{",
        "pgdual_cancel_requests_total{", "pgdual_parse_failures_total ",
        "pgdual_async_queue_depth ", "pgdual_secondary_lag_statements ",
        "pgdual_async_queue_overflow_total ", "pgdual_retry_queue_depth ",
        "pgdual_sessions_draining ", "pgdual_backend_up{"}) {
    INFO(name);
    CHECK(contains(text, name));
  }
}

TEST_CASE("set_phase_info replaces the previous series", "[metrics]") {
  metrics::Metrics metrics;
  metrics.set_phase_info(
      {{"default", "", "dual_write"}, {"table", "public.orders", "shadow_read"}});
  std::string text = metrics.serialize();
  CHECK(contains(
      text, "pgdual_phase_info{name=\"public.orders\",phase=\"shadow_read\",scope=\"table\"} 1"));
  CHECK(contains(text, "phase=\"dual_write\",scope=\"default\"} 1"));

  metrics.set_phase_info({{"default", "", "cutover"}, {"default", "", "cutover"}});
  text = metrics.serialize();
  CHECK_FALSE(contains(text, "public.orders"));
  CHECK_FALSE(contains(text, "phase=\"dual_write\""));
  CHECK(contains(text, "phase=\"cutover\",scope=\"default\"} 1"));
}

TEST_CASE("write divergence counts per table, bounded", "[metrics]") {
  metrics::Metrics metrics;
  metrics.count_write_divergence("public.orders");
  metrics.count_write_divergence("public.orders");
  CHECK(contains(metrics.serialize(), "pgdual_write_divergence_total{table=\"public.orders\"} 2"));

  for (std::size_t i = 0; i < metrics::Metrics::kMaxDivergenceTables + 5; ++i) {
    metrics.count_write_divergence("t" + std::to_string(i));
  }
  const std::string text = metrics.serialize();
  CHECK(contains(text, "pgdual_write_divergence_total{table=\"_other\"} 6"));
  CHECK(contains(text, "pgdual_write_divergence_total{table=\"public.orders\"} 2"));
}

TEST_CASE("AdminServer serves metrics, health and readiness", "[admin]") {
  metrics::Metrics metrics("test");
  std::mutex readiness_mutex;
  Readiness readiness{false, "old=down new=up"};
  IoThread io_thread;
  AdminServer server(io_thread.io(), metrics, [&] {
    std::lock_guard lock(readiness_mutex);
    return readiness;
  });
  REQUIRE_FALSE(server.listen("127.0.0.1", 0));
  const std::uint16_t port = server.port();
  REQUIRE(port != 0);

  SECTION("/metrics shows a counter incremented before the scrape") {
    metrics.client_connections_total().Increment(7);
    metrics.cancel_requests(metrics::CancelResult::unknown_key).Increment();
    const Reply reply = fetch(port, "/metrics");
    CHECK(reply.status == 200);
    CHECK(reply.content_type.rfind("text/plain; version=0.0.4", 0) == 0);
    CHECK(contains(reply.body, "pgdual_client_connections_total 7"));
    CHECK(contains(reply.body, "pgdual_cancel_requests_total{result=\"unknown_key\"} 1"));
  }
  SECTION("/healthz") {
    const Reply reply = fetch(port, "/healthz");
    CHECK(reply.status == 200);
    CHECK(reply.body == "ok\n");
  }
  SECTION("/readyz follows the readiness callback") {
    Reply reply = fetch(port, "/readyz");
    CHECK(reply.status == 503);
    CHECK(reply.body == "old=down new=up\n");
    {
      std::lock_guard lock(readiness_mutex);
      readiness = Readiness{true, "old=up new=up"};
    }
    reply = fetch(port, "/readyz?verbose");
    CHECK(reply.status == 200);
    CHECK(reply.body == "ready\n");
  }
  SECTION("unknown path, wrong method, HEAD") {
    CHECK(fetch(port, "/nope").status == 404);
    CHECK(fetch(port, "/").status == 404);
    CHECK(fetch(port, "/metrics", http::verb::post).status == 405);
    CHECK(fetch(port, "/healthz", http::verb::delete_).status == 405);
    const Reply head = fetch(port, "/healthz", http::verb::head);
    CHECK(head.status == 200);
    CHECK(head.body.empty());
  }
  SECTION("keep-alive serves several requests on one connection") {
    asio::io_context client_io;
    auto socket = connect_to(client_io, port);
    Reply first = exchange(socket, http::verb::get, "/healthz", true);
    CHECK(first.status == 200);
    CHECK(first.keep_alive);
    Reply second = exchange(socket, http::verb::get, "/metrics", true);
    CHECK(second.status == 200);
    CHECK(contains(second.body, "pgdual_build_info"));
    Reply third = exchange(socket, http::verb::get, "/nope", false);
    CHECK(third.status == 404);
    CHECK_FALSE(third.keep_alive);
    // The server closes after a non-keep-alive request.
    char byte;
    boost::system::error_code ec;
    socket.read_some(asio::buffer(&byte, 1), ec);
    CHECK(ec == asio::error::eof);
  }
  SECTION("an oversized header is refused and the connection closed") {
    asio::io_context client_io;
    auto socket = connect_to(client_io, port);
    http::request<http::empty_body> req{http::verb::get, "/metrics", 11};
    req.set("X-Padding", std::string(AdminServer::kMaxHeaderBytes + 100, 'a'));
    boost::system::error_code ec;
    http::write(socket, req, ec);  // the server may close before reading it all
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res, ec);
    if (!ec) {
      CHECK(res.result() == http::status::request_header_fields_too_large);
    }
    // Either way the server is still serving others.
    CHECK(fetch(port, "/healthz").status == 200);
  }
  SECTION("garbage gets 400") {
    asio::io_context client_io;
    auto socket = connect_to(client_io, port);
    asio::write(socket, asio::buffer(std::string("\x16\x03\x01 not http\r\n\r\n")));
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    boost::system::error_code ec;
    http::read(socket, buffer, res, ec);
    REQUIRE_FALSE(ec);
    CHECK(res.result() == http::status::bad_request);
  }
  SECTION("stop closes the listener and open connections") {
    asio::io_context client_io;
    auto idle = connect_to(client_io, port);
    CHECK(exchange(idle, http::verb::get, "/healthz", true).status == 200);
    server.stop();
    char byte;
    boost::system::error_code ec;
    idle.read_some(asio::buffer(&byte, 1), ec);  // returns at once instead of after 5 s
    CHECK(ec);
    CHECK(wait_until(
        [&] {
          tcp::socket s(client_io);
          boost::system::error_code connect_ec;
          s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), connect_ec);
          return static_cast<bool>(connect_ec);
        },
        2s));
  }
}

TEST_CASE("AdminServer reports a bind failure", "[admin]") {
  metrics::Metrics metrics;
  asio::io_context io;
  tcp::acceptor taken(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  AdminServer server(io, metrics, [] { return Readiness{true, ""}; });
  CHECK(server.listen("127.0.0.1", taken.local_endpoint().port()));
  CHECK(server.port() == 0);
  AdminServer bad_host(io, metrics, [] { return Readiness{true, ""}; });
  CHECK(bad_host.listen("no-such-host.invalid", 0));
}

TEST_CASE("BackendProbe tells a listening port from a closed one", "[probe]") {
  metrics::Metrics metrics;
  asio::io_context listener_io;
  tcp::acceptor listening(listener_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::uint16_t open_port = listening.local_endpoint().port();
  const std::uint16_t dead_port = closed_port();

  IoThread io_thread;
  BackendProbe probe(io_thread.io(), metrics);
  CHECK_FALSE(probe.readiness(true).ready);  // nothing probed yet
  probe.set_targets("127.0.0.1", open_port, "127.0.0.1", dead_port);
  probe.start();

  REQUIRE(wait_until([&] { return probe.reachable(metrics::BackendRole::old_backend); }, 3s));
  std::this_thread::sleep_for(50ms);  // let the round record both backends
  CHECK_FALSE(probe.reachable(metrics::BackendRole::new_backend));

  Readiness r = probe.readiness(true);
  CHECK(r.ready);
  CHECK(r.detail == "old=up new=down");
  r = probe.readiness(false);
  CHECK_FALSE(r.ready);
  CHECK(r.detail == "config invalid; old=up new=down");
  probe.set_primary(metrics::BackendRole::new_backend);
  CHECK_FALSE(probe.readiness(true).ready);

  const std::string text = metrics.serialize();
  CHECK(contains(text, "pgdual_backend_up{backend=\"old\"} 1"));
  CHECK(contains(text, "pgdual_backend_up{backend=\"new\"} 0"));

  SECTION("new targets are probed at once, not after the interval") {
    probe.set_targets("127.0.0.1", dead_port, "localhost", open_port);
    CHECK(wait_until(
        [&] {
          return probe.reachable(metrics::BackendRole::new_backend) &&
                 !probe.reachable(metrics::BackendRole::old_backend);
        },
        1500ms));
    CHECK(probe.readiness(true).ready);  // primary is new now
    CHECK(probe.readiness(true).detail == "old=down new=up");
  }
  SECTION("an unconfigured backend is down") {
    probe.set_targets("127.0.0.1", open_port, "", 0);
    CHECK(wait_until([&] { return probe.reachable(metrics::BackendRole::old_backend); }, 1500ms));
    CHECK_FALSE(probe.reachable(metrics::BackendRole::new_backend));
  }
  probe.stop();
}

TEST_CASE("BackendProbe feeds /readyz through AdminServer", "[probe][admin]") {
  metrics::Metrics metrics;
  asio::io_context listener_io;
  tcp::acceptor listening(listener_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));

  IoThread io_thread;
  BackendProbe probe(io_thread.io(), metrics);
  AdminServer server(io_thread.io(), metrics, [&] { return probe.readiness(true); });
  REQUIRE_FALSE(server.listen("127.0.0.1", 0));
  probe.set_targets("127.0.0.1", closed_port(), "127.0.0.1", listening.local_endpoint().port());
  probe.start();

  REQUIRE(wait_until([&] { return probe.reachable(metrics::BackendRole::new_backend); }, 3s));
  const Reply reply = fetch(server.port(), "/readyz");
  CHECK(reply.status == 503);
  CHECK(reply.body == "old=down new=up\n");
  CHECK(contains(fetch(server.port(), "/metrics").body, "pgdual_backend_up{backend=\"new\"} 1"));
}
