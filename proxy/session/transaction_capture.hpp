#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "journal/record/record.hpp"
#include "proxy/backend/secondary_leg.hpp"
#include "proxy/shadow/result_capture.hpp"

namespace pgdual::proxy {

// The frames of one transaction as the secondary gets (or should get) them, kept until the
// secondary has applied it, so a failure can send it to the journal (session_journal.cpp).
struct TransactionCapture {
  std::string bytes;
  // Where each unit's frames sit in `bytes`, so a unit the primary rejected partway can be cut
  // to what it completed (replace_unit): a transaction that recovered with ROLLBACK TO
  // SAVEPOINT holds the statement the primary refused, and replayed as sent it would fail.
  struct UnitSpan {
    UnitId id = 0;
    std::size_t offset = 0, size = 0;
  };
  std::vector<UnitSpan> units;
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

  // The journal keeps one transaction up to its record limit. Past it the capture lets go of
  // what it holds (a large COPY would otherwise sit in memory a second time) and the
  // transaction, should it need the journal, is counted for reconciliation instead.
  static constexpr std::size_t kMaxBytes = journal::JournalRecordBuilder::kDefaultMaxBytes;
  bool oversize = false;

  void append_unit(UnitId id, std::string_view frames) {
    if (!fits(frames)) return;
    units.push_back({id, bytes.size(), frames.size()});
    bytes.append(frames);
  }
  // COPY data that follows the newest unit belongs to it.
  void append_to_newest_unit(std::string_view frames) {
    if (!fits(frames)) return;
    if (!units.empty()) units.back().size += frames.size();
    bytes.append(frames);
  }
  bool fits(std::string_view frames) {
    if (oversize) return false;
    if (bytes.size() + frames.size() <= kMaxBytes) return true;
    oversize = true;
    std::string().swap(bytes);
    units.clear();
    return false;
  }
  // The frames of a unit, if the capture holds it.
  std::optional<std::string_view> unit_frames(UnitId id) const {
    for (const auto& span : units) {
      if (span.id == id) return std::string_view(bytes).substr(span.offset, span.size);
    }
    return std::nullopt;
  }
  // Puts `frames` (the part of it the primary accepted; empty: none) in place of a unit.
  void replace_unit(UnitId id, std::string_view frames) {
    for (auto span = units.begin(); span != units.end(); ++span) {
      if (span->id != id) continue;
      bytes.replace(span->offset, span->size, frames);
      const auto shift =
          static_cast<std::ptrdiff_t>(frames.size()) - static_cast<std::ptrdiff_t>(span->size);
      span->size = frames.size();
      for (auto later = span + 1; later != units.end(); ++later) {
        later->offset =
            static_cast<std::size_t>(static_cast<std::ptrdiff_t>(later->offset) + shift);
      }
      return;
    }
  }
};

}  // namespace pgdual::proxy
