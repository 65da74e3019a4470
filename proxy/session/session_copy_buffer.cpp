// COPY ... FROM STDIN data is held for the secondary until the primary has finished the COPY
// (the secondary applies only what the primary accepted). Past limits.max_copy_buffer a session
// stops holding it (issue 12, class 8):
// - inside a transaction the data streams to the secondary at once. Exact: should the primary
//   then reject the COPY, its transaction is failed and the client can only leave it with
//   ROLLBACK or ROLLBACK TO a savepoint set before the COPY, which undo the secondary's COPY too
//   (and a COMMIT answered ROLLBACK becomes a ROLLBACK there);
// - in autocommit the secondary must not commit a COPY the primary may still refuse: it is
//   detached from the session, and the table is counted and logged for reconciliation.

#include <spdlog/spdlog.h>

#include "proxy/session/client_session.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;

asio::awaitable<void> ClientSession::bound_copy_buffer() {
  const UnitId copy_unit = copy_route_.first;
  if (!secondary_usable() || !secondary_->held_bytes(copy_unit, EntryPurpose::body)) co_return;
  const PrimaryUnit* unit = primary_leg_.find(copy_unit);
  const auto limit_mib = config_->config.limits.max_copy_buffer >> 20;
  if (unit != nullptr && !unit->autocommit) {
    spdlog::info(
        "COPY larger than limits.max_copy_buffer ({} MiB) inside a transaction: "
        "streaming it to the secondary",
        limit_mib);
    secondary_->resolve_keep(copy_unit, EntryPurpose::body, commit_gate(copy_unit));
    co_await secondary_->flush();
    co_return;
  }
  secondary_->resolve(copy_unit, EntryPurpose::body, std::nullopt);  // lets go of the data
  if (capturing_ && !open_capture_.oversize) {
    // The journal's capture still holds the COPY: once the primary committed it, the relay
    // applies it to the secondary (should it grow past the journal's limit, that is counted).
    spdlog::info(
        "autocommit COPY larger than limits.max_copy_buffer ({} MiB): the secondary "
        "gets it through the journal",
        limit_mib);
    secondary_->mark_broken("COPY larger than limits.max_copy_buffer");
    on_secondary_broken();
    co_return;
  }
  const auto tables = count_drift_risk(unit != nullptr ? unit->tables : std::vector<std::string>{},
                                       "copy_larger_than_buffer");
  spdlog::warn(
      "autocommit COPY larger than limits.max_copy_buffer ({} MiB): the secondary is detached "
      "from session {} and does not get it; tables [{}] need reconciliation (wrap large COPYs "
      "in a transaction to stream them)",
      limit_mib, cancel_key_ ? cancel_key_->process_id : 0, fmt::join(tables, ","));
  secondary_->mark_broken("COPY larger than limits.max_copy_buffer");
  on_secondary_broken();
}

}  // namespace pgdual::proxy
