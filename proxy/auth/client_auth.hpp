#pragma once
// Authenticates a client to pgdual itself (auth.method): trust, cleartext
// (TLS only), md5 or SCRAM-SHA-256. On failure the client has been sent
// PostgreSQL's own ErrorResponse (28P01); the caller closes the session.

#include <prometheus/counter.h>

#include <boost/asio/awaitable.hpp>
#include <string>

#include "config/config.hpp"
#include "proxy/auth/user_directory.hpp"
#include "proxy/net/frame_reader.hpp"

namespace pgdual::proxy {

struct ClientAuthRequest {
  std::string user;
  config::AuthMethod method;
  const UserDirectory* users;
  bool over_tls;
  // Counted before the client hears the refusal, so that whoever sees it also sees the count.
  prometheus::Counter* refusals = nullptr;
};

boost::asio::awaitable<bool> authenticate_client(FrameReader& reader,
                                                 const ClientAuthRequest& request);

}  // namespace pgdual::proxy
