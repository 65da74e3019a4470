#include "config/default_config.hpp"

namespace pgdual::config {

std::string embedded_demo_config() {
  // Local throwaway servers only: trust authentication and plain TCP are acceptable here and
  // nowhere else (see deploy/pgdual.example.yaml for a production configuration).
  return R"yaml(# pgdual demo configuration (embedded; see docs/configuration.md)
listen: 127.0.0.1:6432
admin_listen: 127.0.0.1:9187
workers: 0
auth:
  method: trust
backends:
  old:
    host: 127.0.0.1
    port: 55432
    user: pgdual_demo
    password: ${PGDUAL_DEMO_PASSWORD}
    sslmode: disable
  new:
    host: 127.0.0.1
    port: 55433
    user: pgdual_demo
    password: ${PGDUAL_DEMO_PASSWORD}
    sslmode: disable
log:
  level: info
  format: text
migration:
  phase: dual_write
  strategy: sync
  on_secondary_failure: continue
)yaml";
}

}  // namespace pgdual::config
