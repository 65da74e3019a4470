#pragma once
// One client connection, from the first byte to the last: startup and TLS
// negotiation, authentication, backend connections, then the relay. A
// session lives on one worker thread with its backend connections, so
// nothing in it takes a lock.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>

#include "protocol/messages.hpp"
#include "protocol/startup.hpp"
#include "proxy/backend_connection.hpp"
#include "proxy/cancel_registry.hpp"
#include "proxy/frame_reader.hpp"
#include "proxy/pg_stream.hpp"
#include "proxy/runtime.hpp"

namespace pgdual::proxy {

class ClientSession : public std::enable_shared_from_this<ClientSession> {
 public:
  ClientSession(tcp::socket socket, Runtime& runtime);
  ~ClientSession();

  boost::asio::awaitable<void> run();

  // Graceful shutdown: closes the session at once if it is idle, otherwise
  // as soon as its transaction ends. Call on the session's executor.
  void request_drain();

 private:
  enum class StartupOutcome { proceed, done };

  boost::asio::awaitable<StartupOutcome> negotiate_startup();
  boost::asio::awaitable<void> handle_cancel_request(const protocol::StartupPacket& packet);
  boost::asio::awaitable<bool> connect_primary();
  boost::asio::awaitable<void> send_startup_reply();
  boost::asio::awaitable<void> relay();
  boost::asio::awaitable<void> pump_client_to_primary();
  boost::asio::awaitable<void> pump_primary_to_client();
  boost::asio::awaitable<void> send_error(const protocol::ErrorFields& error);
  StartupParameters backend_parameters(const config::BackendConfig& backend) const;
  bool idle() const { return transaction_status_ == 'I' && pending_replies_.empty(); }
  void close_all();

  PgStream client_;
  FrameReader client_reader_;
  Runtime& runtime_;
  std::shared_ptr<const RuntimeConfig> config_;
  protocol::StartupPacket startup_;
  std::unique_ptr<BackendConnection> primary_;
  std::optional<CancelKey> cancel_key_;
  char transaction_status_ = 'I';
  // Send times of Query/Sync messages whose ReadyForQuery has not come back:
  // the backend latency histogram measures from send to ReadyForQuery.
  std::deque<std::chrono::steady_clock::time_point> pending_replies_;
  bool drain_requested_ = false;
  bool counted_ = false;
};

}  // namespace pgdual::proxy
