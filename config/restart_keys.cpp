// keys_needing_restart: which changed keys a live reload cannot apply. The list must agree with
// the "Reload" column of docs/configuration.md.

#include "config/loader.hpp"

namespace pgdual::config {
namespace {

class Differences {
 public:
  template <class T>
  void compare(const char* path, const T& running, const T& reloaded) {
    if (!(running == reloaded)) keys.emplace_back(path);
  }
  std::vector<std::string> keys;
};

void compare_backend(Differences& d, const std::string& prefix, const BackendConfig& a,
                     const BackendConfig& b) {
  const auto key = [&](const char* name) { return prefix + "." + name; };
  // Compared field by field so that the report names the key, never its value.
  if (a.host != b.host) d.keys.push_back(key("host"));
  if (a.port != b.port) d.keys.push_back(key("port"));
  if (a.user != b.user) d.keys.push_back(key("user"));
  // password is absent on purpose: it is only used when a new backend connection logs in, so a
  // rotated password (password_file on a Kubernetes Secret volume) applies live.
  if (a.dbname != b.dbname) d.keys.push_back(key("dbname"));
  if (a.sslmode != b.sslmode) d.keys.push_back(key("sslmode"));
  if (a.sslrootcert != b.sslrootcert) d.keys.push_back(key("sslrootcert"));
  if (a.sslcert != b.sslcert) d.keys.push_back(key("sslcert"));
  if (a.sslkey != b.sslkey) d.keys.push_back(key("sslkey"));
  if (a.connect_timeout != b.connect_timeout) d.keys.push_back(key("connect_timeout_ms"));
}

}  // namespace

std::vector<std::string> keys_needing_restart(const Config& running, const Config& reloaded) {
  Differences d;
  // The listening sockets and the worker threads are created once at start.
  if (running.listen_host != reloaded.listen_host || running.listen_port != reloaded.listen_port) {
    d.keys.emplace_back("listen");
  }
  if (running.admin_host != reloaded.admin_host || running.admin_port != reloaded.admin_port) {
    d.keys.emplace_back("admin_listen");
  }
  d.compare("workers", running.workers, reloaded.workers);
  // The TLS context is built once at start; the handshake code depends on it.
  if (running.tls.has_value() != reloaded.tls.has_value()) {
    d.keys.emplace_back("tls");
  } else if (running.tls) {
    d.compare("tls.cert_file", running.tls->cert_file, reloaded.tls->cert_file);
    d.compare("tls.key_file", running.tls->key_file, reloaded.tls->key_file);
    d.compare("tls.ca_file", running.tls->ca_file, reloaded.tls->ca_file);
    d.compare("tls.require", running.tls->require, reloaded.tls->require);
  }
  // Changing the method under connected clients would make pgdual's answer to a
  // half-finished authentication exchange ambiguous; users and passwords reload live.
  d.compare("auth.method", running.auth.method, reloaded.auth.method);
  // Open sessions hold connections to the backends; pointing them elsewhere mid-migration
  // would split sessions between two pairs of servers.
  compare_backend(d, "backends.old", running.old_backend, reloaded.old_backend);
  compare_backend(d, "backends.new", running.new_backend, reloaded.new_backend);
  // The journal's threads open their store once: the tables' schema, the file directory and the
  // instance name (which entries are this instance's) stay as they started.
  const auto& a = running.migration.journal;
  const auto& b = reloaded.migration.journal;
  d.compare("migration.journal.store", a.store, b.store);
  d.compare("migration.journal.schema", a.schema, b.schema);
  d.compare("migration.journal.directory", a.directory, b.directory);
  d.compare("migration.journal.instance", a.instance, b.instance);
  return std::move(d.keys);
}

}  // namespace pgdual::config
