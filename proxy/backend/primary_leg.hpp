#pragma once
// The primary store's side of a session, beside SecondaryLeg: the units sent to the primary, in
// the order its replies come back, and the transaction status its last ReadyForQuery reported.
// Every reply belongs to the oldest unit; the unit ends with its ReadyForQuery. The session
// writes the bytes; the leg only keeps the boundaries, so it holds no socket.

#include <list>

#include "protocol/constants.hpp"
#include "proxy/backend/primary_unit.hpp"

namespace pgdual::proxy {

class PrimaryLeg {
 public:
  // A client unit, tracked from its first message: the primary may answer it (an error after a
  // Flush) before the client's Sync completes it.
  PrimaryUnit& open_unit(UnitId id);
  // pgdual's own statement, sent just before the newest unit (whose bytes are held back behind
  // it). The newest unit must exist.
  void insert_before_newest(PrimaryUnit unit);
  // Sent behind everything queued.
  void append(PrimaryUnit unit);

  bool empty() const { return units_.empty(); }
  // The unit the primary's next reply belongs to; the leg must not be empty.
  PrimaryUnit& oldest() { return units_.front(); }
  PrimaryUnit& newest() { return units_.back(); }
  // The newest unit's id, 0 when nothing is queued.
  UnitId newest_id() const { return units_.empty() ? 0 : units_.back().id; }
  // Still waiting for the primary's ReadyForQuery.
  bool pending(UnitId id) const;
  PrimaryUnit* find(UnitId id);
  const std::list<PrimaryUnit>& units() const { return units_; }

  // The primary's ReadyForQuery ended pgdual's own oldest unit.
  void drop_oldest() { units_.pop_front(); }
  // The primary's ReadyForQuery ended the client's oldest unit with `status`.
  PrimaryUnit finish_oldest(protocol::TxnStatus status);

  // From the ReadyForQuery of the last client unit the primary finished.
  protocol::TxnStatus status() const { return status_; }
  // Between transactions with nothing in flight.
  bool idle() const { return status_ == protocol::TxnStatus::idle && units_.empty(); }

 private:
  // A list, not a deque: pump_primary holds a reference to the oldest unit across suspensions,
  // and insert_before_newest inserts in the middle, which would invalidate every reference into
  // a deque.
  std::list<PrimaryUnit> units_;
  protocol::TxnStatus status_ = protocol::TxnStatus::idle;
};

}  // namespace pgdual::proxy
