#include "proxy/backend/backend_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "protocol/constants.hpp"
#include "protocol/md5_auth.hpp"
#include "protocol/scram.hpp"
#include "proxy/net/use_tuple.hpp"

namespace pgdual::proxy {

namespace {
// Backend replies during startup are small; a huge one means a confused peer.
constexpr std::size_t kBackendStartupMaxMessage = 1 << 20;
constexpr std::size_t kBackendMaxMessage = std::size_t(1) << 30;  // PostgreSQL's own limit
}  // namespace

struct BackendConnection::ScramState {
  explicit ScramState(std::string password) : exchange(std::move(password)) {}
  protocol::scram::ClientExchange exchange;
};

BackendConnection::BackendConnection(tcp::socket socket, const config::BackendConfig& config,
                                     metrics::BackendRole role)
    : stream_(std::move(socket)),
      reader_(stream_, kBackendStartupMaxMessage, false),
      config_(config),
      role_(role) {}

boost::asio::awaitable<std::unique_ptr<BackendConnection>> BackendConnection::open(
    BackendTarget target, const StartupParameters& parameters, BackendFailure& failure) {
  using namespace boost::asio::experimental::awaitable_operators;
  auto executor = co_await boost::asio::this_coro::executor;
  const auto& config = *target.config;

  tcp::resolver resolver(executor);
  const std::string port = std::to_string(config.port);  // named: see client_session.cpp
  auto [resolve_ec, endpoints] = co_await resolver.async_resolve(config.host, port, use_tuple);
  if (resolve_ec) {
    failure.reason = "could not resolve \"" + config.host + "\": " + resolve_ec.message();
    co_return nullptr;
  }
  tcp::socket socket(executor);
  boost::asio::steady_timer timer(executor, config.connect_timeout);
  auto outcome = co_await (boost::asio::async_connect(socket, endpoints, use_tuple) ||
                           timer.async_wait(use_tuple));
  if (outcome.index() == 1) {
    failure.reason = "timeout connecting to " + config.host + ":" + std::to_string(config.port);
    co_return nullptr;
  }
  if (auto [ec, endpoint] = std::get<0>(outcome); ec) {
    failure.reason = "could not connect to " + config.host + ":" + std::to_string(config.port) +
                     ": " + ec.message();
    co_return nullptr;
  }

  auto connection = std::make_unique<BackendConnection>(std::move(socket), config, target.role);
  if (!co_await connection->negotiate_tls(target.tls, failure)) co_return nullptr;
  timer.expires_after(config.connect_timeout);
  auto started = co_await (connection->startup(parameters, failure) || timer.async_wait(use_tuple));
  if (started.index() == 1) {
    failure.reason = "timeout during startup with " + config.host;
    co_return nullptr;
  }
  if (!std::get<0>(started)) co_return nullptr;
  connection->reader_.set_max_message_size(kBackendMaxMessage);
  co_return connection;
}

boost::asio::awaitable<bool> BackendConnection::negotiate_tls(boost::asio::ssl::context* tls,
                                                              BackendFailure& failure) {
  using config::SslMode;
  if (config_.sslmode == SslMode::disable || tls == nullptr) co_return true;
  std::string request;
  protocol::append_ssl_request(request);
  if (auto ec = co_await stream_.write_all(request)) {
    failure.reason = "could not send SSLRequest: " + ec.message();
    co_return false;
  }
  std::uint8_t answer = 0;
  auto [ec, n] = co_await stream_.read_some(std::span(&answer, 1));
  if (ec || n != 1) {
    failure.reason = "no answer to SSLRequest";
    co_return false;
  }
  if (answer == 'N') {
    if (config_.sslmode == SslMode::prefer) co_return true;
    failure.reason = "server " + config_.host + " does not support SSL, but sslmode requires it";
    co_return false;
  }
  if (answer != 'S') {
    failure.reason = "unexpected answer to SSLRequest";
    co_return false;
  }
  const bool verify_host = config_.sslmode == SslMode::verify_full;
  if (auto handshake_ec = co_await stream_.handshake_as_client(*tls, config_.host, verify_host)) {
    failure.reason = "TLS handshake with " + config_.host + " failed: " + handshake_ec.message();
    co_return false;
  }
  co_return true;
}

boost::asio::awaitable<bool> BackendConnection::startup(const StartupParameters& parameters,
                                                        BackendFailure& failure) {
  std::string message;
  protocol::append_startup(message, parameters);
  if (auto ec = co_await stream_.write_all(message)) {
    failure.reason = "could not send startup packet: " + ec.message();
    co_return false;
  }
  for (;;) {
    auto status = co_await reader_.fill();
    if (status != FrameReader::Status::ok) {
      failure.reason = status == FrameReader::Status::protocol_error
                           ? "invalid message from server: " + reader_.error()
                           : "server closed the connection during startup";
      co_return false;
    }
    while (auto frame = reader_.next()) {
      if (frame->type == protocol::backend::kAuthentication) {
        auto request = protocol::parse_authentication(frame->payload);
        if (!request) {
          failure.reason = "malformed authentication request from server";
          co_return false;
        }
        const bool answered = co_await answer_authentication(*request, failure);
        if (!answered) co_return false;
      } else if (frame->type == protocol::backend::kErrorResponse) {
        failure.server_error = protocol::parse_error_fields(frame->payload);
        failure.reason = failure.server_error ? failure.server_error->message : "server error";
        co_return false;
      } else if (frame->type == protocol::backend::kParameterStatus) {
        if (auto parameter = protocol::parse_parameter_status(frame->payload)) {
          parameter_status_.emplace_back(std::move(*parameter));
        }
      } else if (frame->type == protocol::backend::kBackendKeyData) {
        if (auto key = protocol::parse_backend_key_data(frame->payload)) {
          process_id_ = key->first;
          secret_key_ = key->second;
        }
      } else if (frame->type == protocol::backend::kReadyForQuery) {
        reader_.take_raw();
        co_return true;
      }
      // Notices and NegotiateProtocolVersion need no action.
    }
    reader_.take_raw();
  }
}

boost::asio::awaitable<bool> BackendConnection::answer_authentication(
    const protocol::AuthenticationRequest& request, BackendFailure& failure) {
  std::string reply;
  const AuthStep step = authentication_reply(request, failure, reply);
  if (step != AuthStep::send_reply) co_return step == AuthStep::authenticated;
  const auto ec = co_await stream_.write_all(reply);
  if (ec) {
    failure.reason = "could not send authentication response: " + ec.message();
    co_return false;
  }
  co_return true;
}

BackendConnection::AuthStep BackendConnection::authentication_reply(
    const protocol::AuthenticationRequest& request, BackendFailure& failure, std::string& reply) {
  const std::string& password = config_.password;
  switch (request.code) {
    case 0:  // AuthenticationOk
      return AuthStep::authenticated;
    case 3:  // cleartext; libpq sends it unless the connection forbids it
      protocol::append_password(reply, password);
      return AuthStep::send_reply;
    case 5: {  // md5 with a 4-byte salt
      if (request.data.size() != 4) {
        failure.reason = "malformed md5 salt from server";
        return AuthStep::failed;
      }
      std::span<const std::uint8_t, 4> salt(request.data.data(), 4);
      protocol::append_password(reply,
                                protocol::md5_password_response(config_.user, password, salt));
      return AuthStep::send_reply;
    }
    case 10:
    case 11:
    case 12:
      return sasl_reply(request, failure, reply);
    default:
      failure.reason = "unsupported authentication method " + std::to_string(request.code) +
                       " requested by server";
      return AuthStep::failed;
  }
}

BackendConnection::AuthStep BackendConnection::sasl_reply(
    const protocol::AuthenticationRequest& request, BackendFailure& failure, std::string& reply) {
  const std::string_view data(reinterpret_cast<const char*>(request.data.data()),
                              request.data.size());
  std::string error;
  if (request.code == 10) {  // SASL: mechanisms as a list of C strings
    if (data.find("SCRAM-SHA-256") == std::string_view::npos) {
      failure.reason = "server offers no supported SASL mechanism";
      return AuthStep::failed;
    }
    scram_ = std::make_shared<ScramState>(config_.password);
    protocol::append_sasl_initial_response(reply, "SCRAM-SHA-256", scram_->exchange.client_first());
    return AuthStep::send_reply;
  }
  if (request.code == 11) {  // SASL continue
    auto client_final = scram_ ? scram_->exchange.on_server_first(data, error) : std::nullopt;
    if (!client_final) {
      failure.reason = "SCRAM exchange with server failed: " + error;
      return AuthStep::failed;
    }
    protocol::append_sasl_response(reply, *client_final);
    return AuthStep::send_reply;
  }
  // SASL final: prove the server knew the password too
  if (!scram_ || !scram_->exchange.verify_server_final(data, error)) {
    failure.reason = "server's SCRAM signature is invalid: " + error;
    return AuthStep::failed;
  }
  return AuthStep::authenticated;
}

}  // namespace pgdual::proxy
