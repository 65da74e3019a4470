#pragma once

#include <memory>
#include <string>
#include <vector>

#include "proxy/backend/secondary_leg.hpp"
#include "proxy/shadow/result_capture.hpp"

namespace pgdual::proxy {

// The frames of one transaction as the secondary gets (or should get) them, kept until the
// secondary has applied it, so a failure can send it to the journal (session_journal.cpp).
struct TransactionCapture {
  std::string bytes;
  std::vector<std::string> session_state;  // SET statements in force when it began
  std::string state_parses;                // the session's named Parse messages then
  std::vector<std::string> tables;
  UnitId first_unit = 0, last_unit = 0;
  bool has_write = false;
  bool failed = false;   // the secondary did not apply (part of) it
  bool in_band = false;  // outbox: its record was inserted inside the transaction
  std::string reason, sqlstate;
  // Sent directly as an explicit transaction: the secondary's transaction id, asked for just
  // before its COMMIT, so a replay can tell whether a COMMIT whose reply was lost committed.
  std::shared_ptr<shadow::ResultCapture> secondary_xid;
  bool sent_to_secondary = false;  // some of it reached the secondary directly
  bool outcome_unknown = false;    // its last unit was on the wire when the secondary failed
};

}  // namespace pgdual::proxy
