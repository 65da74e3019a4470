#pragma once
// One entry of the durable replay journal (issue 4): a transaction, or one
// autocommit unit, that the primary accepted and the secondary did not apply.
// The replayer uses libpq, which cannot send raw protocol bytes, so a record
// holds what libpq needs: statement texts with their parameters (as
// PQexecParams takes them) and any COPY FROM STDIN data, plus the session
// state to recreate first and the context an operator needs.
//
// JournalRecordBuilder turns a client's frontend frames into that form; encode
// and decode give a record a versioned, checksummed byte form for storage.
// No I/O here.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/frame_decoder.hpp"

namespace pgdual::journal {

// libpq's Oid is unsigned; the protocol sends the same 32 bits as an Int32.
using TypeOid = std::uint32_t;

enum class ParamFormat : std::uint8_t { text = 0, binary = 1 };

struct JournalStatement {
  std::string sql;
  // One entry per value; 0 = let the server infer the type (as in Parse).
  std::vector<TypeOid> param_type_oids;
  std::vector<std::optional<std::string>> param_values;  // nullopt = SQL NULL
  std::vector<ParamFormat> param_formats;                // one per value
  // COPY ... FROM STDIN: the bytes the client sent as CopyData, whole. Present
  // (possibly empty) once the client sent CopyData or CopyDone for it.
  std::optional<std::string> copy_data;

  bool operator==(const JournalStatement&) const = default;
};

struct JournalRecord {
  std::uint64_t id = 0;  // assigned by the store on append; never reused
  std::string instance;  // the pgdual instance that journaled it
  std::int32_t session = 0;
  std::chrono::system_clock::time_point created_at{};
  std::string reason;    // "secondary rejected", "secondary unreachable", "timeout", ...
  std::string sqlstate;  // the secondary's, when it answered
  std::uint32_t attempts = 0;
  std::string last_error;
  // The client's database: where the table store keeps the record, and which
  // database of the secondary the file store replays it into.
  std::string database;
  // Idempotency key. When non-empty, the original (direct) write may already
  // have recorded this key in <schema>.applied_transactions on the secondary
  // inside its own transaction, so the replay checks and inserts this key;
  // when empty the key is "<instance>:<id>" (replay_policy.hpp, marker_key).
  std::string marker;
  // Run first, in order, on a clean replay session (SET search_path TO ...).
  std::vector<std::string> session_state;
  std::vector<std::string> tables;  // tables it writes: what to reconcile if it dies
  // The client's statements in order, its own BEGIN/COMMIT included.
  std::vector<JournalStatement> statements;

  bool operator==(const JournalRecord&) const = default;
};

// Bytes the record's variable parts take (texts, values, COPY data): what the
// builder's limit and the journal's byte depth count.
std::size_t payload_size(const JournalRecord& record);

// Follows a client's frontend frames (Query, Parse, Bind, Execute, Close,
// Describe, Sync, Flush, CopyData/Done/Fail) for one record and turns each
// Execute of a bound portal, and each simple Query, into a JournalStatement.
// A multi-statement Query string stays one statement: PostgreSQL runs it as
// one implicit transaction, and so will the replay.
//
// Prepared statements outlive a record (they belong to the session), so they
// survive take(); portals do not (they end with their transaction). Statements
// prepared before this builder existed must be announced with
// remember_statement.
//
// A frame it cannot parse or represent (unknown statement or portal, a
// FunctionCall, a CopyFail, more than one COPY in one statement, the size
// limit) makes add() return false and marks the builder failed: the record is
// then incomplete and the caller must fall back to reconciliation of its
// tables. Never throws on client bytes (only std::bad_alloc can escape).
class JournalRecordBuilder {
 public:
  static constexpr std::size_t kDefaultMaxBytes = 64u << 20;

  explicit JournalRecordBuilder(std::size_t max_bytes = kDefaultMaxBytes) : max_bytes_(max_bytes) {}

  void remember_statement(std::string name, std::string sql, std::vector<TypeOid> param_oids);
  bool add(const protocol::Frame& frame);

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  const JournalRecord& record() const { return record_; }

  // The record built so far (statements only: the caller fills in the
  // metadata, tables and session state; check failed() first, a failed
  // builder's record is incomplete). Starts the next record: clears the
  // statements, portals and failure, keeps the prepared statements.
  JournalRecord take();

 private:
  struct Prepared {
    std::string sql;
    std::vector<TypeOid> param_oids;
  };
  struct Portal {
    JournalStatement statement;
    bool executed = false;  // a later Execute only fetches more rows
  };

  bool fail(std::string why);
  bool add_query(const protocol::Frame& frame);
  bool add_parse(const protocol::Frame& frame);
  bool add_bind(const protocol::Frame& frame);
  bool add_execute(const protocol::Frame& frame);
  bool add_close(const protocol::Frame& frame);
  bool add_copy(const protocol::Frame& frame);
  bool push_statement(JournalStatement statement);
  bool count_bytes(std::size_t bytes);

  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::map<std::string, Prepared, std::less<>> prepared_;
  std::map<std::string, Portal, std::less<>> portals_;
  bool copy_done_ = false;  // the last statement's COPY has ended
  JournalRecord record_;
  std::string error_;
};

// Byte form: [u8 format version][u32 body length][body][u32 CRC-32C of all
// that precedes it], little-endian, every string and list length-prefixed.
// encode returns "" when a field is too large for its u32 length (>= 4 GiB);
// decode returns nullopt for anything but one whole, intact record of a known
// version, checks every length against what remains before allocating, and
// never reads out of bounds. Version 2 added database and marker (after
// last_error); version 1 records are refused like any unknown version.
inline constexpr std::uint8_t kJournalFormatVersion = 2;
std::string encode(const JournalRecord& record);
std::optional<JournalRecord> decode(std::string_view bytes);

}  // namespace pgdual::journal
