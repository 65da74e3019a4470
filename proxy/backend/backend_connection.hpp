#pragma once
// One server connection (to the old or the new PostgreSQL) owned by a client
// session: TCP connect, optional TLS per sslmode, startup, authentication as a
// client (trust, cleartext, md5, SCRAM-SHA-256), then ready for queries.

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "metrics/labels.hpp"
#include "protocol/messages.hpp"
#include "proxy/net/frame_reader.hpp"
#include "proxy/net/pg_stream.hpp"

namespace pgdual::proxy {

using StartupParameters = std::vector<std::pair<std::string, std::string>>;

struct BackendTarget {
  const config::BackendConfig* config = nullptr;
  boost::asio::ssl::context* tls = nullptr;  // null: sslmode disable
  metrics::BackendRole role = metrics::BackendRole::old_backend;
};

// Why a connect failed: a server's ErrorResponse (forwarded to the client as
// is) or pgdual's own description (network, TLS, authentication method).
struct BackendFailure {
  std::optional<protocol::ErrorFields> server_error;
  std::string reason;
};

class BackendConnection {
 public:
  // Connects and authenticates; on failure returns nullptr and fills failure.
  static boost::asio::awaitable<std::unique_ptr<BackendConnection>> open(
      BackendTarget target, const StartupParameters& parameters, BackendFailure& failure);

  PgStream& stream() { return stream_; }
  FrameReader& reader() { return reader_; }
  metrics::BackendRole role() const { return role_; }
  const config::BackendConfig& config() const { return config_; }
  // What the server reported during startup.
  const StartupParameters& parameter_status() const { return parameter_status_; }
  std::int32_t process_id() const { return process_id_; }
  std::int32_t secret_key() const { return secret_key_; }

  BackendConnection(tcp::socket socket, const config::BackendConfig& config,
                    metrics::BackendRole role);

 private:
  boost::asio::awaitable<bool> negotiate_tls(boost::asio::ssl::context* tls,
                                             BackendFailure& failure);
  boost::asio::awaitable<bool> startup(const StartupParameters& parameters,
                                       BackendFailure& failure);
  boost::asio::awaitable<bool> answer_authentication(const protocol::AuthenticationRequest& request,
                                                     BackendFailure& failure);
  // What answers one authentication request, decided without I/O: a reply to send, done, or a
  // failure (reason in `failure`).
  enum class AuthStep { send_reply, authenticated, failed };
  AuthStep authentication_reply(const protocol::AuthenticationRequest& request,
                                BackendFailure& failure, std::string& reply);
  AuthStep sasl_reply(const protocol::AuthenticationRequest& request, BackendFailure& failure,
                      std::string& reply);

  PgStream stream_;
  FrameReader reader_;
  // A copy: the RuntimeConfig it came from is freed when a reload replaces it, while this
  // connection lives on (and is asked for its host and port, e.g. to cancel on it).
  config::BackendConfig config_;
  metrics::BackendRole role_;
  StartupParameters parameter_status_;
  std::int32_t process_id_ = 0;
  std::int32_t secret_key_ = 0;
  struct ScramState;
  std::shared_ptr<ScramState> scram_;
};

}  // namespace pgdual::proxy
