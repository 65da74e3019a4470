#include "config/validate.hpp"

namespace pgdual::config {
namespace {

void check_cleartext_auth(const Config& c, Diagnostics& diag) {
  if (c.auth.method != AuthMethod::password || diag.failed("auth.method")) return;
  if (!c.tls) {
    diag.error("auth.method",
               "cleartext passwords are only allowed over TLS: configure the tls section with "
               "require: true, or use scram-sha-256");
  } else if (!c.tls->require) {
    diag.error("auth.method",
               "cleartext passwords are only allowed over TLS: set tls.require: true so that no "
               "client can send its password unencrypted");
  }
}

// Both backends on one database would apply every write twice.
void check_distinct_backends(const Config& c, Diagnostics& diag) {
  if (diag.failed("backends")) return;
  const BackendConfig& a = c.old_backend;
  const BackendConfig& b = c.new_backend;
  if (a.host != b.host || a.port != b.port || a.dbname != b.dbname) return;
  diag.error("backends.new",
             "points at the same server and database as backends.old, so every write would be "
             "applied twice; give a different host, port or dbname");
}

void check_listen_addresses(const Config& c, Diagnostics& diag) {
  if (diag.failed("listen") || diag.failed("admin_listen")) return;
  if (c.listen_port != 0 && c.listen_port == c.admin_port && c.listen_host == c.admin_host) {
    diag.error("admin_listen", "uses the same address as listen; give it another port");
  }
}

}  // namespace

void validate_across_sections(const Config& config, Diagnostics& diag) {
  check_cleartext_auth(config, diag);
  check_distinct_backends(config, diag);
  check_listen_addresses(config, diag);
}

}  // namespace pgdual::config
