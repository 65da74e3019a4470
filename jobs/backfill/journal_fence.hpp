#pragma once
// Keeps a chunk from being written on top of a mirrored write still in flight. Under the outbox
// strategy (and whenever the table-store journal holds entries) a transaction that committed on
// the old store reaches the new store later, through the journal. Once a chunk holds its row
// locks on the old store, no further write to those rows can commit; the writes that committed
// before are in the journal (the outbox record commits with its transaction) and visible to the
// next statement. The fence takes the highest entry id then and waits until the relay has
// applied (or dead-lettered, which is counted and logged by the relay) every entry up to it.
// Only then is the chunk written on the new store: a write like SET n = n + 1 reaches the new
// store either before the copy (it found no row there, or the row the copy then skips) or after
// it (on top of the copied value), never both.

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace pgdual::jobs::backfill {

class JournalFence {
 public:
  // schema: migration.journal.schema (unquoted).
  JournalFence(std::string schema, std::chrono::milliseconds max_wait);

  // Looks up the journal table on the old store once; false with `error` when the query failed.
  bool find(PGconn* old_store, std::string& error);
  bool present() const { return present_; }

  // Inside the chunk's transaction on the old store, after the rows were locked and read.
  // "" when every entry up to the fence is gone; else why the chunk must not be written
  // (the relay did not get there within max_wait, or a query failed).
  std::string wait(PGconn* old_store, const std::function<bool()>& cancelled);

  // The journal's id sequence: entries ever appended. Under sync, entries appear only when the
  // new store failed a write, and such an entry is appended after its transaction committed on
  // the old store; a table copied while this moved gets marked for reconciliation.
  std::int64_t appended(PGconn* old_store) const;
  std::chrono::milliseconds waited() const { return waited_; }

 private:
  std::string schema_;
  std::chrono::milliseconds max_wait_;
  bool present_ = false;
  std::string table_;  // "schema".journal
  std::chrono::milliseconds waited_{0};
};

}  // namespace pgdual::jobs::backfill
