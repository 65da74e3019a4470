#include "proxy/runtime.hpp"

#include "proxy/tls_contexts.hpp"

namespace pgdual::proxy {

std::shared_ptr<const RuntimeConfig> make_runtime_config(config::Config config, std::string& error) {
  auto old_tls = make_backend_tls_context(config.old_backend, error);
  if (!error.empty()) {
    error = "backends.old." + error;
    return nullptr;
  }
  auto new_tls = make_backend_tls_context(config.new_backend, error);
  if (!error.empty()) {
    error = "backends.new." + error;
    return nullptr;
  }
  UserDirectory users(config.auth);
  routing::ClassifierOptions options{config.migration.write_functions,
                                     config.migration.read_only_functions};
  return std::make_shared<const RuntimeConfig>(RuntimeConfig{
      std::move(config), std::move(users), std::move(old_tls), std::move(new_tls), std::move(options)});
}

}  // namespace pgdual::proxy
