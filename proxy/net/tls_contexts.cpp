#include "proxy/net/tls_contexts.hpp"

namespace pgdual::proxy {

namespace ssl = boost::asio::ssl;

std::shared_ptr<ssl::context> make_server_tls_context(const config::ServerTlsConfig& tls,
                                                      std::string& error) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1,
                       ec);
  context->use_certificate_chain_file(tls.cert_file, ec);
  if (ec) {
    error = "tls.cert_file " + tls.cert_file + ": " + ec.message();
    return nullptr;
  }
  context->use_private_key_file(tls.key_file, ssl::context::pem, ec);
  if (ec) {
    error = "tls.key_file " + tls.key_file + ": " + ec.message();
    return nullptr;
  }
  if (!tls.ca_file.empty()) {
    context->load_verify_file(tls.ca_file, ec);
    if (ec) {
      error = "tls.ca_file " + tls.ca_file + ": " + ec.message();
      return nullptr;
    }
    context->set_verify_mode(ssl::verify_peer, ec);
  }
  return context;
}

std::shared_ptr<ssl::context> make_backend_tls_context(const config::BackendConfig& backend,
                                                       std::string& error) {
  using config::SslMode;
  if (backend.sslmode == SslMode::disable) return nullptr;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1,
                       ec);
  const bool verify =
      backend.sslmode == SslMode::verify_ca || backend.sslmode == SslMode::verify_full;
  if (verify) {
    context->load_verify_file(backend.sslrootcert, ec);
    if (ec) {
      error = "sslrootcert " + backend.sslrootcert + ": " + ec.message();
      return nullptr;
    }
    context->set_verify_mode(ssl::verify_peer, ec);
  } else {
    context->set_verify_mode(ssl::verify_none, ec);
  }
  if (!backend.sslcert.empty()) {
    context->use_certificate_chain_file(backend.sslcert, ec);
    if (!ec) context->use_private_key_file(backend.sslkey, ssl::context::pem, ec);
    if (ec) {
      error = "sslcert/sslkey: " + ec.message();
      return nullptr;
    }
  }
  return context;
}

}  // namespace pgdual::proxy
