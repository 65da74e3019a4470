// JournalRecordBuilder: the client's frontend frames -> replayable statements.
// It mirrors the server's bookkeeping of prepared statements and portals
// closely enough that every Execute resolves to the text and values it ran:
// a Bind copies the statement's text and types into the portal (so a later
// Parse of the same name does not change what the portal runs), a simple
// Query drops the unnamed statement and portal as PostgreSQL does
// (exec_simple_query), and a second Execute of a portal only fetches more
// rows of a statement that already ran, so it adds nothing.

#include <utility>

#include "journal/record/record.hpp"
#include "protocol/constants.hpp"
#include "protocol/messages.hpp"

namespace pgdual::journal {

namespace fe = protocol::frontend;

std::size_t payload_size(const JournalRecord& record) {
  std::size_t total = record.instance.size() + record.reason.size() + record.sqlstate.size() +
                      record.last_error.size() + record.database.size() + record.marker.size();
  for (const auto& text : record.session_state) total += text.size();
  for (const auto& table : record.tables) total += table.size();
  for (const auto& statement : record.statements) {
    total += statement.sql.size() + statement.param_type_oids.size() * sizeof(TypeOid);
    for (const auto& value : statement.param_values) total += value ? value->size() : 0;
    total += statement.copy_data ? statement.copy_data->size() : 0;
  }
  return total;
}

void JournalRecordBuilder::remember_statement(std::string name, std::string sql,
                                              std::vector<TypeOid> param_oids) {
  prepared_.insert_or_assign(std::move(name), Prepared{std::move(sql), std::move(param_oids)});
}

bool JournalRecordBuilder::add(const protocol::Frame& frame) {
  if (failed()) return false;
  switch (frame.type) {
    case fe::kQuery:
      return add_query(frame);
    case fe::kParse:
      return add_parse(frame);
    case fe::kBind:
      return add_bind(frame);
    case fe::kExecute:
      return add_execute(frame);
    case fe::kClose:
      return add_close(frame);
    case fe::kDescribe:
      // Describe changes nothing the replay needs; it is still checked.
      if (!protocol::parse_describe(frame.payload)) return fail("malformed Describe");
      return true;
    case fe::kSync:
    case fe::kFlush:
    case fe::kTerminate:
      if (!frame.payload.empty()) return fail("malformed Sync, Flush or Terminate");
      return true;
    case fe::kCopyData:
    case fe::kCopyDone:
    case fe::kCopyFail:
      return add_copy(frame);
    case fe::kFunctionCall:
      return fail("a fastpath FunctionCall cannot be journaled");
    default:
      return fail(std::string("unexpected frontend message type '") + frame.type + "'");
  }
}

JournalRecord JournalRecordBuilder::take() {
  JournalRecord out = std::move(record_);
  record_ = JournalRecord{};
  portals_.clear();
  error_.clear();
  bytes_ = 0;
  copy_done_ = false;
  return out;
}

bool JournalRecordBuilder::fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  return false;
}

bool JournalRecordBuilder::count_bytes(std::size_t bytes) {
  bytes_ += bytes;
  if (bytes_ > max_bytes_) {
    return fail("record exceeds the journal's limit of " + std::to_string(max_bytes_) + " bytes");
  }
  return true;
}

bool JournalRecordBuilder::push_statement(JournalStatement statement) {
  std::size_t size = statement.sql.size();
  for (const auto& value : statement.param_values) size += value ? value->size() : 0;
  if (!count_bytes(size)) return false;
  record_.statements.push_back(std::move(statement));
  copy_done_ = false;
  return true;
}

bool JournalRecordBuilder::add_query(const protocol::Frame& frame) {
  auto sql = protocol::parse_query(frame.payload);
  if (!sql) return fail("malformed Query");
  prepared_.erase(std::string{});
  portals_.erase(std::string{});
  if (sql->empty()) return true;  // an empty query does nothing to replay
  JournalStatement statement;
  statement.sql = std::string(*sql);
  return push_statement(std::move(statement));
}

bool JournalRecordBuilder::add_parse(const protocol::Frame& frame) {
  auto parse = protocol::parse_parse(frame.payload);
  if (!parse) return fail("malformed Parse");
  std::vector<TypeOid> oids;
  oids.reserve(parse->param_oids.size());
  for (std::int32_t oid : parse->param_oids) oids.push_back(static_cast<TypeOid>(oid));
  // A named statement cannot be redefined without Close (the server refuses,
  // and a refused unit is never journaled), so replacing is only ever what
  // the server did too: the unnamed statement's replacement.
  remember_statement(std::string(parse->name), std::string(parse->sql), std::move(oids));
  return true;
}

bool JournalRecordBuilder::add_bind(const protocol::Frame& frame) {
  auto bind = protocol::parse_bind(frame.payload);
  if (!bind) return fail("malformed Bind");
  auto prepared = prepared_.find(bind->statement);
  if (prepared == prepared_.end()) {
    return fail("Bind names unknown prepared statement \"" + std::string(bind->statement) + "\"");
  }
  const std::size_t count = bind->params.size();
  const auto& formats = bind->param_formats;
  // Bind's format list: none = all text, one = applies to all, else one each.
  if (formats.size() > 1 && formats.size() != count) {
    return fail("Bind has " + std::to_string(formats.size()) + " parameter formats for " +
                std::to_string(count) + " values");
  }
  const auto& oids = prepared->second.param_oids;
  if (oids.size() > count) {
    return fail("Bind supplies " + std::to_string(count) + " values for a statement with " +
                std::to_string(oids.size()) + " parameter types");
  }
  JournalStatement statement;
  statement.sql = prepared->second.sql;
  statement.param_type_oids = oids;
  statement.param_type_oids.resize(count, 0);
  statement.param_formats.reserve(count);
  statement.param_values.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::int16_t code = formats.empty() ? 0 : formats[formats.size() == 1 ? 0 : i];
    if (code != 0 && code != 1)
      return fail("Bind has parameter format code " + std::to_string(code));
    statement.param_formats.push_back(code == 0 ? ParamFormat::text : ParamFormat::binary);
    const auto& value = bind->params[i];
    if (value) {
      statement.param_values.emplace_back(std::string(protocol::as_string_view(*value)));
    } else {
      statement.param_values.emplace_back(std::nullopt);
    }
  }
  portals_.insert_or_assign(std::string(bind->portal), Portal{std::move(statement), false});
  return true;
}

bool JournalRecordBuilder::add_execute(const protocol::Frame& frame) {
  auto execute = protocol::parse_execute(frame.payload);
  if (!execute) return fail("malformed Execute");
  auto portal = portals_.find(execute->first);
  if (portal == portals_.end()) {
    return fail("Execute names unknown portal \"" + std::string(execute->first) + "\"");
  }
  if (portal->second.executed) return true;  // fetching more rows runs nothing new
  portal->second.executed = true;
  return push_statement(portal->second.statement);
}

bool JournalRecordBuilder::add_close(const protocol::Frame& frame) {
  auto close = protocol::parse_close(frame.payload);
  if (!close) return fail("malformed Close");
  // Closing a name that does not exist is not an error for the server either.
  if (close->first == 'S') {
    if (auto found = prepared_.find(close->second); found != prepared_.end())
      prepared_.erase(found);
  } else if (close->first == 'P') {
    if (auto found = portals_.find(close->second); found != portals_.end()) portals_.erase(found);
  } else {
    return fail(std::string("Close of unknown target '") + close->first + "'");
  }
  return true;
}

bool JournalRecordBuilder::add_copy(const protocol::Frame& frame) {
  if (frame.type == fe::kCopyFail) {
    // The server aborts the COPY, so the unit failed on the primary: the
    // record would not be what the primary accepted.
    return fail("the client aborted a COPY (CopyFail)");
  }
  if (record_.statements.empty()) return fail("COPY data without a statement that started it");
  if (copy_done_) {
    // One copy_data per statement: a second COPY's data would be merged into
    // the first's and replayed wrongly.
    return fail("more than one COPY FROM STDIN in one statement cannot be journaled");
  }
  auto& copy_data = record_.statements.back().copy_data;
  if (!copy_data) copy_data.emplace();
  if (frame.type == fe::kCopyDone) {
    if (!frame.payload.empty()) return fail("malformed CopyDone");
    copy_done_ = true;
    return true;
  }
  if (!count_bytes(frame.payload.size())) return false;
  copy_data->append(protocol::as_string_view(frame.payload));
  return true;
}

}  // namespace pgdual::journal
