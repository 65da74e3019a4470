// A unit the primary rejected partway inside an explicit transaction (issue 12, class 5): the
// secondary, and the journal's capture of the transaction, keep the statements the primary
// completed and nothing after them (routing/accepted_prefix.hpp says why a SAVEPOINT among
// them matters). What cannot be cut is counted and logged, and its tables are to reconcile.

#include <spdlog/spdlog.h>

#include "proxy/session/client_session.hpp"

namespace pgdual::proxy {

std::optional<routing::AcceptedPrefix> ClientSession::accepted_part_of(const PrimaryUnit& unit) {
  // The capture holds the unit as the secondary would get it; so does the secondary's held
  // entry when the unit is mirrored.
  std::optional<std::string_view> frames;
  if (capturing_) frames = open_capture_.unit_frames(unit.id);
  if (!frames && unit.mirrored() && secondary_usable()) {
    frames = secondary_->held_bytes(unit.id, EntryPurpose::body);
  }
  if (!frames) return std::nullopt;
  auto accepted = routing::accepted_prefix(*frames, unit.completed);
  if (capturing_) {
    open_capture_.replace_unit(unit.id, accepted.kind == routing::AcceptedPrefix::Kind::prefix
                                            ? std::string_view(accepted.bytes)
                                            : std::string_view());
  }
  if (accepted.kind == routing::AcceptedPrefix::Kind::unknown) {
    // The secondary gets none of it: a SAVEPOINT among its completed statements is missing
    // there, and a ROLLBACK TO it would fail or reach an older savepoint of that name.
    const auto tables = count_drift_risk(unit.tables, "partly_failed_unit_not_split");
    spdlog::warn(
        "a statement string the primary rejected partway inside a transaction cannot be split: "
        "session={} completed={} tables=[{}]; the secondary gets none of it, reconcile these "
        "tables",
        cancel_key_ ? cancel_key_->process_id : 0, unit.completed, fmt::join(tables, ","));
  }
  return accepted;
}

}  // namespace pgdual::proxy
