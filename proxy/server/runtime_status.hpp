#pragma once
// The status report of this running instance (proxy/admin/status/status_report.hpp), for the
// admin endpoint's /status pages and the admin console's SHOW commands. Asks the status watch
// for a fresher look when its last one is old, without waiting for it.

#include "proxy/admin/status/status_report.hpp"
#include "proxy/server/runtime.hpp"

namespace pgdual::proxy {

status::StatusReport current_status(Runtime& runtime);

}  // namespace pgdual::proxy
