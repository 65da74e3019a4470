#include "proxy/client_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "protocol/constants.hpp"
#include "proxy/client_auth.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

ClientSession::ClientSession(tcp::socket socket, Runtime& runtime)
    : client_(std::move(socket)),
      client_reader_(client_, 0, true),
      runtime_(runtime),
      config_(runtime.config()) {
  client_reader_.set_max_message_size(config_->config.limits.max_message_size);
}

ClientSession::~ClientSession() {
  if (cancel_key_) runtime_.cancels().unregister(*cancel_key_);
  if (primary_) runtime_.metrics().backend(primary_->role()).connections->Decrement();
  if (counted_) {
    runtime_.client_count().fetch_sub(1);
    runtime_.metrics().client_connections().Decrement();
  }
}

asio::awaitable<void> ClientSession::send_error(const protocol::ErrorFields& error) {
  std::string bytes;
  protocol::append_error_response(bytes, error);
  co_await client_.write_all(bytes);
}

void ClientSession::close_all() {
  client_.close();
  if (primary_) primary_->stream().close();
}

void ClientSession::request_drain() {
  drain_requested_ = true;
  if (primary_ && idle()) {
    // Tell the client why, as PostgreSQL does on a fast shutdown, then close.
    auto self = shared_from_this();
    asio::co_spawn(
        client_.socket().get_executor(),
        [self]() -> asio::awaitable<void> {
          co_await self->send_error(protocol::make_error(
              "57P01", "terminating connection due to administrator command", "FATAL"));
          self->close_all();
        },
        asio::detached);
  }
}

asio::awaitable<void> ClientSession::run() {
  auto& metrics = runtime_.metrics();
  metrics.client_connections_total().Increment();
  const auto& limits = config_->config.limits;
  const std::size_t count = runtime_.client_count().fetch_add(1) + 1;
  counted_ = true;
  metrics.client_connections().Increment();
  if (runtime_.draining()) {
    metrics.client_connections_rejected(RejectReason::shutting_down).Increment();
    co_await send_error(protocol::make_error("57P03", "the database system is shutting down", "FATAL"));
    co_return;
  }
  if (count > limits.max_client_connections) {
    metrics.client_connections_rejected(RejectReason::too_many_connections).Increment();
    co_await send_error(protocol::make_error("53300", "sorry, too many clients already", "FATAL"));
    co_return;
  }

  // Everything before the relay must finish within startup_timeout, so a
  // client that stalls cannot hold a connection slot forever.
  asio::steady_timer deadline(co_await asio::this_coro::executor, limits.startup_timeout);
  auto started = co_await ([this]() -> asio::awaitable<bool> {
    if (co_await negotiate_startup() == StartupOutcome::done) co_return false;
    if (!co_await connect_primary()) co_return false;
    co_return true;
  }() || deadline.async_wait(use_tuple));
  if (started.index() == 1) {
    metrics.client_connections_rejected(RejectReason::startup_timeout).Increment();
    spdlog::info("client startup timed out after {} ms", limits.startup_timeout.count());
    co_await send_error(protocol::make_error("08006", "startup timeout expired", "FATAL"));
    close_all();
    co_return;
  }
  if (!std::get<0>(started)) {
    close_all();
    co_return;
  }
  co_await send_startup_reply();
  co_await relay();
  close_all();
}

asio::awaitable<ClientSession::StartupOutcome> ClientSession::negotiate_startup() {
  auto& metrics = runtime_.metrics();
  client_reader_.set_startup_phase(true);
  for (;;) {
    auto status = co_await client_reader_.fill();
    if (status != FrameReader::Status::ok) {
      if (status == FrameReader::Status::protocol_error) {
        metrics.protocol_errors(ProtocolErrorReason::bad_length).Increment();
        metrics.client_connections_rejected(RejectReason::protocol_error).Increment();
        co_await send_error(protocol::make_error("08P01", "invalid startup packet: " + client_reader_.error(), "FATAL"));
      }
      co_return StartupOutcome::done;
    }
    auto frame = client_reader_.next();
    client_reader_.take_raw();
    if (!frame) co_return StartupOutcome::done;
    protocol::StartupError error;
    auto packet = protocol::parse_startup(frame->payload, error);
    if (!packet) {
      const bool version = error.sqlstate == "0A000";
      metrics.protocol_errors(version ? ProtocolErrorReason::unsupported_version : ProtocolErrorReason::bad_startup).Increment();
      metrics.client_connections_rejected(RejectReason::protocol_error).Increment();
      co_await send_error(protocol::make_error(error.sqlstate.empty() ? "08P01" : error.sqlstate, error.message, "FATAL"));
      co_return StartupOutcome::done;
    }
    switch (packet->kind) {
      case protocol::StartupKind::cancel_request:
        co_await handle_cancel_request(*packet);
        co_return StartupOutcome::done;
      case protocol::StartupKind::gssenc_request:
        // No GSSAPI encryption: 'N' lets the client go on with SSL or plain.
        co_await client_.write_all("N");
        continue;
      case protocol::StartupKind::ssl_request: {
        auto* tls = runtime_.server_tls();
        if (tls == nullptr || client_.is_tls()) {
          co_await client_.write_all("N");
          continue;
        }
        // Bytes sent after SSLRequest but before our answer would be read as
        // if they came over TLS (CVE-2021-23214): refuse them.
        if (client_reader_.has_buffered_bytes()) {
          metrics.protocol_errors(ProtocolErrorReason::bad_startup).Increment();
          co_return StartupOutcome::done;
        }
        co_await client_.write_all("S");
        if (auto ec = co_await client_.handshake_as_server(*tls)) {
          metrics.tls_handshakes_failed(TlsSide::client).Increment();
          spdlog::info("client TLS handshake failed: {}", ec.message());
          co_return StartupOutcome::done;
        }
        metrics.tls_handshakes_ok(TlsSide::client).Increment();
        continue;
      }
      case protocol::StartupKind::startup:
        break;
    }
    startup_ = std::move(*packet);
    break;
  }
  client_reader_.set_startup_phase(false);

  const auto& config = config_->config;
  if (config.tls && config.tls->require && !client_.is_tls()) {
    metrics.client_connections_rejected(RejectReason::tls_required).Increment();
    co_await send_error(protocol::make_error("28000", "pgdual requires an encrypted connection (sslmode=require)", "FATAL"));
    co_return StartupOutcome::done;
  }
  if (startup_.needs_negotiation()) {
    std::string reply;
    protocol::append_negotiate_protocol_version(reply, 0, startup_.protocol_options());
    co_await client_.write_all(reply);
  }
  ClientAuthRequest auth{startup_.parameter("user").value_or(""), config.auth.method, &config_->users,
                         client_.is_tls()};
  if (!co_await authenticate_client(client_reader_, auth)) {
    metrics.client_connections_rejected(RejectReason::auth_failed).Increment();
    spdlog::info("authentication failed for user \"{}\"", auth.user);
    co_return StartupOutcome::done;
  }
  co_return StartupOutcome::proceed;
}

asio::awaitable<void> ClientSession::handle_cancel_request(const protocol::StartupPacket& packet) {
  auto targets = runtime_.cancels().find({packet.cancel_process_id, packet.cancel_secret_key});
  if (!targets) {
    runtime_.metrics().cancel_requests(CancelResult::unknown_key).Increment();
    co_return;
  }
  runtime_.metrics().cancel_requests(CancelResult::forwarded).Increment();
  auto executor = co_await asio::this_coro::executor;
  for (const auto& target : *targets) {
    tcp::resolver resolver(executor);
    auto [resolve_ec, endpoints] = co_await resolver.async_resolve(target.host, std::to_string(target.port), use_tuple);
    if (resolve_ec) continue;
    tcp::socket socket(executor);
    auto [connect_ec, endpoint] = co_await asio::async_connect(socket, endpoints, use_tuple);
    if (connect_ec) continue;
    std::string request;
    protocol::append_cancel_request(request, target.process_id, target.secret_key);
    PgStream stream(std::move(socket));
    co_await stream.write_all(request);
    stream.close();
  }
}

StartupParameters ClientSession::backend_parameters(const config::BackendConfig& backend) const {
  // The client's own settings (options, application_name, client_encoding,
  // DateStyle, TimeZone, ...) reach the backend unchanged; user and database
  // come from the backend's config when it sets them.
  StartupParameters parameters;
  parameters.emplace_back("user", backend.user.empty() ? startup_.parameter("user").value_or("") : backend.user);
  parameters.emplace_back("database", backend.dbname.value_or(startup_.database()));
  for (const auto& [name, value] : startup_.parameters) {
    if (name == "user" || name == "database" || name.starts_with("_pq_.")) continue;
    parameters.emplace_back(name, value);
  }
  return parameters;
}

asio::awaitable<bool> ClientSession::connect_primary() {
  const auto& config = config_->config;
  BackendTarget target{&config.old_backend, config_->old_tls.get(), BackendRole::old_backend};
  BackendFailure failure;
  auto& backend_metrics = runtime_.metrics().backend(target.role);
  primary_ = co_await BackendConnection::open(target, backend_parameters(*target.config), failure);
  if (!primary_) {
    backend_metrics.connect_errors->Increment();
    if (failure.server_error) {
      // The server's own words (no such database, role, ...) reach the client.
      co_await send_error(*failure.server_error);
    } else {
      spdlog::warn("backend {} unavailable: {}", to_string(target.role), failure.reason);
      co_await send_error(protocol::make_error("08006", "pgdual could not connect to the " +
                                                           std::string(to_string(target.role)) +
                                                           " database: " + failure.reason, "FATAL"));
    }
    co_return false;
  }
  backend_metrics.connections->Increment();
  if (primary_->stream().is_tls()) runtime_.metrics().tls_handshakes_ok(TlsSide::backend).Increment();
  cancel_key_ = runtime_.cancels().register_session({CancelTarget{
      target.config->host, target.config->port, primary_->process_id(), primary_->secret_key()}});
  co_return true;
}

asio::awaitable<void> ClientSession::send_startup_reply() {
  std::string reply;
  protocol::append_authentication_ok(reply);
  for (const auto& [name, value] : primary_->parameter_status()) {
    protocol::append_parameter_status(reply, name, value);
  }
  protocol::append_backend_key_data(reply, cancel_key_->process_id, cancel_key_->secret_key);
  protocol::append_ready_for_query(reply, 'I');
  co_await client_.write_all(reply);
}

asio::awaitable<void> ClientSession::relay() {
  // Two pumps; when either ends (client gone, backend gone, Terminate) the
  // other is cancelled.
  co_await (pump_client_to_primary() || pump_primary_to_client());
}

asio::awaitable<void> ClientSession::pump_client_to_primary() {
  auto& metrics = runtime_.metrics();
  const auto& backend_metrics = metrics.backend(primary_->role());
  for (;;) {
    auto status = co_await client_reader_.fill();
    bool terminate = false;
    while (auto frame = client_reader_.next()) {
      switch (frame->type) {
        case protocol::frontend::kQuery:
        case protocol::frontend::kSync:
        case protocol::frontend::kFunctionCall:
          pending_replies_.push_back(std::chrono::steady_clock::now());
          backend_metrics.queries(QueryKind::unknown).Increment();
          break;
        case protocol::frontend::kTerminate:
          terminate = true;
          break;
        default:
          break;
      }
      if (terminate) break;
    }
    auto raw = client_reader_.take_raw();
    if (!raw.empty()) {
      metrics.client_bytes_received().Increment(static_cast<double>(raw.size()));
      backend_metrics.bytes_sent->Increment(static_cast<double>(raw.size()));
      if (co_await primary_->stream().write_all(raw)) co_return;
    }
    if (terminate) co_return;
    if (status != FrameReader::Status::ok || !client_reader_.error().empty()) {
      if (!client_reader_.error().empty()) {
        // Framing is lost: end this session only, with PostgreSQL's error.
        const bool oversize = client_reader_.error().find("exceeds") != std::string::npos;
        metrics.protocol_errors(oversize ? ProtocolErrorReason::oversize : ProtocolErrorReason::unknown_message).Increment();
        spdlog::warn("closing client session: {}", client_reader_.error());
        co_await send_error(protocol::make_error(oversize ? "54000" : "08P01", client_reader_.error(), "FATAL"));
      }
      co_return;
    }
  }
}

asio::awaitable<void> ClientSession::pump_primary_to_client() {
  auto& metrics = runtime_.metrics();
  const auto& backend_metrics = metrics.backend(primary_->role());
  auto& reader = primary_->reader();
  for (;;) {
    auto status = co_await reader.fill();
    if (status != FrameReader::Status::ok) {
      if (status == FrameReader::Status::protocol_error) {
        spdlog::error("invalid message from backend: {}", reader.error());
      }
      co_return;
    }
    while (auto frame = reader.next()) {
      if (frame->type == protocol::backend::kReadyForQuery) {
        if (auto tx = protocol::parse_ready_for_query(frame->payload)) transaction_status_ = *tx;
        if (!pending_replies_.empty()) {
          backend_metrics.query_duration->Observe(seconds_since(pending_replies_.front()));
          pending_replies_.pop_front();
        }
      }
    }
    auto raw = reader.take_raw();
    backend_metrics.bytes_received->Increment(static_cast<double>(raw.size()));
    metrics.client_bytes_sent().Increment(static_cast<double>(raw.size()));
    if (co_await client_.write_all(raw)) co_return;
    if (drain_requested_ && idle()) {
      co_await send_error(protocol::make_error("57P01", "terminating connection due to administrator command", "FATAL"));
      co_return;
    }
  }
}

}  // namespace pgdual::proxy
