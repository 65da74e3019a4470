#pragma once
// One unit of work on the primary, from the moment it is queued until the primary's
// ReadyForQuery ends it: the client's (one Query, or an extended batch up to Sync) or one of
// pgdual's own statements sent between the client's units.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/constants.hpp"
#include "proxy/backend/secondary_leg.hpp"
#include "proxy/backend/unit_origin.hpp"
#include "proxy/shadow/result_capture.hpp"
#include "routing/phase_rules.hpp"
#include "routing/unit_route.hpp"

namespace pgdual::proxy {

// The answer to pgdual's own values query (session_rewrite.cpp).
struct PrimaryValues {
  std::shared_ptr<shadow::ResultCapture> capture;
  bool done = false;
};

struct PrimaryUnit {
  UnitId id = 0;
  std::chrono::steady_clock::time_point sent;
  double primary_seconds = 0;  // from `sent` to the primary's ReadyForQuery
  UnitOrigin origin = UnitOrigin::client;
  routing::MirrorDecision decision;
  routing::UnitRoute route = routing::UnitRoute::primary_only;
  bool is_write = false;
  bool autocommit = false;  // sent outside a transaction
  // cdc.wait: commit: it ends a transaction that wrote; its ReadyForQuery waits for the new store.
  bool cdc_wait = false;
  bool error = false;
  std::vector<std::string> command_tags;
  std::size_t completed = 0;  // statements finished: CommandComplete or EmptyQueryResponse
  std::vector<std::string> tables;
  std::string text;                          // first statement, for logs
  std::optional<SecondaryResult> secondary;  // arrived before the primary finished
  // Shadow reads: the primary's rows of a shadowed unit; for an A/A
  // re-run, the unit it shadows.
  std::shared_ptr<shadow::ResultCapture> capture;
  UnitId shadow_of = 0;
  // pgdual's query for the values of a deterministic rewrite (session_rewrite.cpp).
  std::shared_ptr<PrimaryValues> primary_values;

  bool mirrored() const { return route == routing::UnitRoute::mirrored; }
};

// A mirrored unit the primary finished, waiting for the secondary's result.
struct PrimaryOutcome {
  bool error = false;
  protocol::TxnStatus status = protocol::TxnStatus::idle;
  std::vector<std::string> command_tags;
  std::vector<std::string> tables;
  std::string text;
};

}  // namespace pgdual::proxy
