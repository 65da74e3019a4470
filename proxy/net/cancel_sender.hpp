#pragma once
// Sends a CancelRequest to a backend on a new connection, as libpq's
// PQcancel does, and waits for the server to close that connection: the
// postmaster closes it only after it has signalled the target backend, so
// when this returns `delivered`, no cancel signal is still on its way.

#include <boost/asio/awaitable.hpp>
#include <chrono>

#include "proxy/net/cancel_registry.hpp"

namespace pgdual::proxy {

enum class CancelDelivery { delivered, not_connected, unconfirmed };

boost::asio::awaitable<CancelDelivery> send_cancel_request(const CancelTarget& target,
                                                           std::chrono::milliseconds timeout);

}  // namespace pgdual::proxy
