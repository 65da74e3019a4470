#include "proxy/server/runtime_status.hpp"

namespace pgdual::proxy {

status::StatusReport current_status(Runtime& runtime) {
  auto* watch = runtime.status_watch();
  if (watch) watch->request_fresh();
  const auto config = runtime.config();
  const auto view = runtime.metrics().view();
  status::StatusInputs in;
  in.config = &config->config;
  in.metrics = &view;
  in.look = watch ? watch->last() : nullptr;
  in.instance = runtime.instance_name();
  in.started_at = runtime.started_at();
  in.now = std::chrono::system_clock::now();
  in.admin_paused = runtime.fleet().admin_paused();
  in.fleet_paused = runtime.fleet().paused();
  in.writes_fenced = runtime.fleet().fenced_reason();
  return status::build_status(in);
}

}  // namespace pgdual::proxy
