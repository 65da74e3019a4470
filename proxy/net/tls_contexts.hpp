#pragma once
// OpenSSL contexts for the client-facing listener and for each backend leg,
// built once from config (they read certificate files, so not on the hot path).

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "config/config.hpp"

namespace pgdual::proxy {

// Server side: our certificate and key; with ca_file, client certificates
// are requested and verified when presented.
std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(
    const config::ServerTlsConfig& tls, std::string& error);

// Client side for a backend, following libpq's sslmode meanings: verify-ca
// checks the chain against sslrootcert, verify-full also the host name;
// require and prefer encrypt without verifying. nullptr for disable.
std::shared_ptr<boost::asio::ssl::context> make_backend_tls_context(
    const config::BackendConfig& backend, std::string& error);

}  // namespace pgdual::proxy
