#include "proxy/net/cancel_sender.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <string>

#include "protocol/messages.hpp"
#include "proxy/net/use_tuple.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

asio::awaitable<CancelDelivery> cancel_and_wait_close(const CancelTarget& target) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  const std::string port = std::to_string(target.port);
  auto [resolve_ec, endpoints] = co_await resolver.async_resolve(target.host, port, use_tuple);
  if (resolve_ec) co_return CancelDelivery::not_connected;
  tcp::socket socket(executor);
  auto [connect_ec, endpoint] = co_await asio::async_connect(socket, endpoints, use_tuple);
  if (connect_ec) co_return CancelDelivery::not_connected;
  std::string request;
  protocol::append_cancel_request(request, target.process_id, target.secret_key);
  auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(request), use_tuple);
  if (write_ec) co_return CancelDelivery::unconfirmed;
  // The server sends nothing back; end of stream means it has acted.
  char byte = 0;
  for (;;) {
    auto [read_ec, n] = co_await socket.async_read_some(asio::buffer(&byte, 1), use_tuple);
    if (read_ec == asio::error::eof || read_ec == asio::error::connection_reset) {
      co_return CancelDelivery::delivered;
    }
    if (read_ec) co_return CancelDelivery::unconfirmed;
  }
}

}  // namespace

asio::awaitable<CancelDelivery> send_cancel_request(const CancelTarget& target,
                                                    std::chrono::milliseconds timeout) {
  asio::steady_timer deadline(co_await asio::this_coro::executor, timeout);
  auto outcome = co_await (cancel_and_wait_close(target) || deadline.async_wait(use_tuple));
  if (outcome.index() == 1) co_return CancelDelivery::unconfirmed;
  co_return std::get<0>(outcome);
}

}  // namespace pgdual::proxy
