#pragma once
// pgdual's own query on a backend connection the session owns, in band:
// only while nothing of the client's is in flight on it (at startup, or at a
// transaction boundary with the relay's pumps stopped).

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "protocol/messages.hpp"
#include "proxy/backend/backend_connection.hpp"

namespace pgdual::proxy {

struct InternalQueryResult {
  bool ok = false;  // false: connection failure or a server error (error set)
  std::vector<std::vector<std::optional<std::string>>> rows;  // text fields, NULL = nullopt
  std::optional<protocol::ErrorFields> error;
  // Asynchronous messages that arrived meanwhile (notifications, notices,
  // parameter changes): they belong to the client, who gets them as is.
  std::string for_client;
};

boost::asio::awaitable<InternalQueryResult> run_internal_query(BackendConnection& connection,
                                                               std::string sql);

}  // namespace pgdual::proxy
