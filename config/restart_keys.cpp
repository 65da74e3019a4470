// The one table of restart-only keys: which changed keys a live reload cannot apply, and how the
// running values are kept. The list must agree with the "Reload" column of
// docs/configuration.md.

#include <functional>

#include "config/describe.hpp"
#include "config/loader.hpp"

namespace pgdual::config {
namespace {

// One restart-only key: its path as the docs name it, how to tell that it changed, and how a
// reload keeps the running value. Compared field by field so that a report names the key,
// never its value.
struct RestartOnlyKey {
  std::string path;
  std::function<bool(const Config& running, const Config& reloaded)> changed;
  std::function<void(const Config& running, Config& next)> keep;
};

// A key that is one member of the config, reached by `field`: a generic lambda, so the same one
// reads the running config and writes the next.
template <class Field>
RestartOnlyKey member(std::string path, Field field) {
  return {std::move(path),
          [field](const Config& a, const Config& b) { return !(field(a) == field(b)); },
          [field](const Config& running, Config& next) { field(next) = field(running); }};
}

void add_backend(std::vector<RestartOnlyKey>& keys, const std::string& prefix,
                 BackendConfig Config::*backend) {
  // password is absent on purpose: it is only used when a new backend connection logs in, so a
  // rotated password (password_file on a Kubernetes Secret volume) applies live.
#define PGDUAL_BACKEND_KEY(name, member_name) \
  keys.push_back(member(                      \
      prefix + "." name, [backend](auto& c) -> auto& { return (c.*backend).member_name; }))
  PGDUAL_BACKEND_KEY("host", host);
  PGDUAL_BACKEND_KEY("port", port);
  PGDUAL_BACKEND_KEY("user", user);
  PGDUAL_BACKEND_KEY("dbname", dbname);
  PGDUAL_BACKEND_KEY("sslmode", sslmode);
  PGDUAL_BACKEND_KEY("sslrootcert", sslrootcert);
  PGDUAL_BACKEND_KEY("sslcert", sslcert);
  PGDUAL_BACKEND_KEY("sslkey", sslkey);
  PGDUAL_BACKEND_KEY("connect_timeout_ms", connect_timeout);
#undef PGDUAL_BACKEND_KEY
}

// Strategy cdc hands the new store's writes to a subscription: switching it on or off under
// open sessions needs the writes paused and drained first (docs/cdc.md, "Switching
// strategies"), which only a restart gives today. Switches among sync, async and outbox stay
// live.
void add_cdc_keys(std::vector<RestartOnlyKey>& keys) {
  keys.push_back({"migration.strategy",
                  [](const Config& a, const Config& b) {
                    const bool a_cdc = a.migration.strategy == Strategy::cdc;
                    const bool b_cdc = b.migration.strategy == Strategy::cdc;
                    return a_cdc != b_cdc;
                  },
                  [](const Config& running, Config& next) {
                    const bool running_cdc = running.migration.strategy == Strategy::cdc;
                    if (running_cdc != (next.migration.strategy == Strategy::cdc)) {
                      next.migration.strategy = running.migration.strategy;
                    }
                  }});
  keys.push_back(member(
      "migration.cdc.copy_data", [](auto& c) -> auto& { return c.migration.cdc.copy_data; }));
  keys.push_back(member(
      "migration.cdc.manage", [](auto& c) -> auto& { return c.migration.cdc.manage; }));
  // The subscription's CONNECTION is set when it is created.
  keys.push_back({"migration.cdc.publisher",
                  [](const Config& a, const Config& b) {
                    const auto& x = a.migration.cdc.publisher;
                    const auto& y = b.migration.cdc.publisher;
                    if (x.has_value() != y.has_value()) return true;
                    return x && (x->host != y->host || x->port != y->port || x->user != y->user ||
                                 x->dbname != y->dbname || x->sslmode != y->sslmode);
                  },
                  [](const Config& running, Config& next) {
                    next.migration.cdc.publisher = running.migration.cdc.publisher;
                  }});
}

void add_tls_field(std::vector<RestartOnlyKey>& keys, const char* path,
                   std::function<bool(const ServerTlsConfig&, const ServerTlsConfig&)> differs,
                   std::function<void(const ServerTlsConfig&, ServerTlsConfig&)> copy) {
  // Only when tls is present on both sides; the "tls" key covers a section added or removed.
  keys.push_back({path,
                  [differs](const Config& a, const Config& b) {
                    return a.tls && b.tls && differs(*a.tls, *b.tls);
                  },
                  [copy](const Config& running, Config& next) {
                    if (running.tls && next.tls) copy(*running.tls, *next.tls);
                  }});
}

std::vector<RestartOnlyKey> build_table() {
  std::vector<RestartOnlyKey> keys;
  // The listening sockets and the worker threads are created once at start.
  keys.push_back({"listen",
                  [](const Config& a, const Config& b) {
                    return a.listen_host != b.listen_host || a.listen_port != b.listen_port;
                  },
                  [](const Config& running, Config& next) {
                    next.listen_host = running.listen_host;
                    next.listen_port = running.listen_port;
                  }});
  keys.push_back({"admin_listen",
                  [](const Config& a, const Config& b) {
                    return a.admin_host != b.admin_host || a.admin_port != b.admin_port;
                  },
                  [](const Config& running, Config& next) {
                    next.admin_host = running.admin_host;
                    next.admin_port = running.admin_port;
                  }});
  keys.push_back(member(
      "workers", [](auto& c) -> auto& { return c.workers; }));
  // The TLS context is built once at start; the handshake code depends on it.
  keys.push_back(
      {"tls",
       [](const Config& a, const Config& b) { return a.tls.has_value() != b.tls.has_value(); },
       [](const Config& running, Config& next) {
         if (running.tls.has_value() != next.tls.has_value()) next.tls = running.tls;
       }});
#define PGDUAL_TLS_KEY(name)                                                                  \
  add_tls_field(                                                                              \
      keys, "tls." #name,                                                                     \
      [](const ServerTlsConfig& a, const ServerTlsConfig& b) { return !(a.name == b.name); }, \
      [](const ServerTlsConfig& running, ServerTlsConfig& next) { next.name = running.name; })
  PGDUAL_TLS_KEY(cert_file);
  PGDUAL_TLS_KEY(key_file);
  PGDUAL_TLS_KEY(ca_file);
  PGDUAL_TLS_KEY(require);
#undef PGDUAL_TLS_KEY
  // Changing the method under connected clients would make pgdual's answer to a
  // half-finished authentication exchange ambiguous; users and passwords reload live.
  keys.push_back(member(
      "auth.method", [](auto& c) -> auto& { return c.auth.method; }));
  // Open sessions hold connections to the backends; pointing them elsewhere mid-migration
  // would split sessions between two pairs of servers.
  add_backend(keys, "backends.old", &Config::old_backend);
  add_backend(keys, "backends.new", &Config::new_backend);
  // The journal's threads open their store once: the tables' schema, the file directory and the
  // instance name (which entries are this instance's) stay as they started.
  keys.push_back(member(
      "migration.journal.store", [](auto& c) -> auto& { return c.migration.journal.store; }));
  keys.push_back(member(
      "migration.journal.schema", [](auto& c) -> auto& { return c.migration.journal.schema; }));
  keys.push_back(member(
      "migration.journal.directory",
      [](auto& c) -> auto& { return c.migration.journal.directory; }));
  keys.push_back(member(
      "migration.journal.instance", [](auto& c) -> auto& { return c.migration.journal.instance; }));
  // The new store's views and triggers are installed for one mapping (pgdual mapping install),
  // and journal records hold statements translated under it. Its rollback rule reloads live:
  // it is what an operator changes to accept leaving cutover.
  keys.push_back({"migration.mapping",
                  [](const Config& a, const Config& b) {
                    return a.migration.mapping.schema != b.migration.mapping.schema ||
                           a.migration.mapping.tables != b.migration.mapping.tables;
                  },
                  [](const Config& running, Config& next) {
                    next.migration.mapping.schema = running.migration.mapping.schema;
                    next.migration.mapping.tables = running.migration.mapping.tables;
                  }});
  add_cdc_keys(keys);
  return keys;
}

const std::vector<RestartOnlyKey>& restart_only_keys() {
  static const std::vector<RestartOnlyKey> table = build_table();
  return table;
}

}  // namespace

std::vector<std::string> keys_needing_restart(const Config& running, const Config& reloaded) {
  std::vector<std::string> changed;
  for (const auto& key : restart_only_keys()) {
    if (key.changed(running, reloaded)) changed.push_back(key.path);
  }
  return changed;
}

std::vector<std::string> restart_only_key_paths() {
  std::vector<std::string> paths;
  for (const auto& key : restart_only_keys()) paths.push_back(key.path);
  return paths;
}

Config keep_restart_only_keys(const Config& running, Config next) {
  for (const auto& key : restart_only_keys()) key.keep(running, next);
  return next;
}

}  // namespace pgdual::config
