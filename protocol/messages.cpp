#include "protocol/messages.hpp"

#include <algorithm>
#include <charconv>

#include "protocol/message_reader.hpp"

namespace pgdual::protocol {

// ---------------------------------------------------------------------------------------------
// MessageWriter

MessageWriter::MessageWriter(std::string& out, char type) : out_(out) {
  if (type != 0) out_.push_back(type);
  length_offset_ = out_.size();
  out_.append(4, '\0');
}

MessageWriter::~MessageWriter() { finish(); }

MessageWriter& MessageWriter::int32(std::int32_t value) {
  const auto v = static_cast<std::uint32_t>(value);
  const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                         static_cast<char>(v >> 8), static_cast<char>(v)};
  out_.append(bytes, 4);
  return *this;
}

MessageWriter& MessageWriter::int16(std::int16_t value) {
  const auto v = static_cast<std::uint16_t>(value);
  const char bytes[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out_.append(bytes, 2);
  return *this;
}

MessageWriter& MessageWriter::byte(std::uint8_t value) {
  out_.push_back(static_cast<char>(value));
  return *this;
}

MessageWriter& MessageWriter::cstring(std::string_view text) {
  // An embedded NUL would end the string early on the wire; cut there so the message stays
  // well-formed.
  const auto nul = text.find('\0');
  if (nul != std::string_view::npos) text = text.substr(0, nul);
  out_.append(text);
  out_.push_back('\0');
  return *this;
}

MessageWriter& MessageWriter::bytes(std::string_view data) {
  out_.append(data);
  return *this;
}

MessageWriter& MessageWriter::bytes(std::span<const std::uint8_t> data) {
  return bytes(as_string_view(data));
}

void MessageWriter::finish() {
  if (finished_) return;
  finished_ = true;
  const auto length = static_cast<std::uint32_t>(out_.size() - length_offset_);
  out_[length_offset_] = static_cast<char>(length >> 24);
  out_[length_offset_ + 1] = static_cast<char>(length >> 16);
  out_[length_offset_ + 2] = static_cast<char>(length >> 8);
  out_[length_offset_ + 3] = static_cast<char>(length);
}

// ---------------------------------------------------------------------------------------------
// Frontend builders

void append_startup(std::string& out,
                    const std::vector<std::pair<std::string, std::string>>& params) {
  MessageWriter w(out, 0);
  w.int32(kProtocolVersion3);
  for (const auto& [name, value] : params) w.cstring(name).cstring(value);
  w.byte(0);
}

void append_ssl_request(std::string& out) { MessageWriter(out, 0).int32(kSslRequestCode); }

void append_gssenc_request(std::string& out) { MessageWriter(out, 0).int32(kGssEncRequestCode); }

void append_cancel_request(std::string& out, std::int32_t process_id, std::int32_t secret_key) {
  MessageWriter(out, 0).int32(kCancelRequestCode).int32(process_id).int32(secret_key);
}

void append_query(std::string& out, std::string_view sql) {
  MessageWriter(out, frontend::kQuery).cstring(sql);
}

std::string query_message(std::string_view sql) {
  std::string bytes;
  append_query(bytes, sql);
  return bytes;
}

void append_password(std::string& out, std::string_view password) {
  MessageWriter(out, frontend::kPassword).cstring(password);
}

void append_sasl_initial_response(std::string& out, std::string_view mechanism,
                                  std::string_view data) {
  MessageWriter(out, frontend::kPassword)
      .cstring(mechanism)
      .int32(static_cast<std::int32_t>(data.size()))
      .bytes(data);
}

void append_sasl_response(std::string& out, std::string_view data) {
  MessageWriter(out, frontend::kPassword).bytes(data);
}

void append_terminate(std::string& out) { MessageWriter(out, frontend::kTerminate); }
void append_sync(std::string& out) { MessageWriter(out, frontend::kSync); }
void append_flush(std::string& out) { MessageWriter(out, frontend::kFlush); }

void append_parse(std::string& out, std::string_view name, std::string_view sql,
                  const std::vector<std::int32_t>& param_oids) {
  MessageWriter w(out, frontend::kParse);
  w.cstring(name).cstring(sql).int16(static_cast<std::int16_t>(param_oids.size()));
  for (auto oid : param_oids) w.int32(oid);
}

void append_bind(std::string& out, std::string_view portal, std::string_view statement,
                 const std::vector<std::int16_t>& param_formats,
                 const std::vector<std::optional<std::string>>& params,
                 const std::vector<std::int16_t>& result_formats) {
  MessageWriter w(out, frontend::kBind);
  w.cstring(portal).cstring(statement);
  w.int16(static_cast<std::int16_t>(param_formats.size()));
  for (auto format : param_formats) w.int16(format);
  w.int16(static_cast<std::int16_t>(params.size()));
  for (const auto& param : params) {
    if (!param) {
      w.int32(-1);  // SQL NULL
    } else {
      w.int32(static_cast<std::int32_t>(param->size())).bytes(*param);
    }
  }
  w.int16(static_cast<std::int16_t>(result_formats.size()));
  for (auto format : result_formats) w.int16(format);
}

void append_describe(std::string& out, char target, std::string_view name) {
  MessageWriter(out, frontend::kDescribe).byte(static_cast<std::uint8_t>(target)).cstring(name);
}

void append_execute(std::string& out, std::string_view portal, std::int32_t max_rows) {
  MessageWriter(out, frontend::kExecute).cstring(portal).int32(max_rows);
}

void append_close(std::string& out, char target, std::string_view name) {
  MessageWriter(out, frontend::kClose).byte(static_cast<std::uint8_t>(target)).cstring(name);
}

void append_copy_data(std::string& out, std::string_view data) {
  MessageWriter(out, frontend::kCopyData).bytes(data);
}

void append_copy_done(std::string& out) { MessageWriter(out, frontend::kCopyDone); }

void append_copy_fail(std::string& out, std::string_view message) {
  MessageWriter(out, frontend::kCopyFail).cstring(message);
}

// ---------------------------------------------------------------------------------------------
// Backend builders

ErrorFields make_error(std::string sqlstate, std::string message, std::string severity) {
  ErrorFields fields;
  fields.severity = std::move(severity);
  fields.sqlstate = std::move(sqlstate);
  fields.message = std::move(message);
  return fields;
}

namespace {

void append_fields(std::string& out, char type, const ErrorFields& fields) {
  MessageWriter w(out, type);
  auto field = [&w](char code, std::string_view value) {
    w.byte(static_cast<std::uint8_t>(code)).cstring(value);
  };
  field(error_field::kSeverity, fields.severity);
  // 'V' is the untranslated severity; a caller relaying a localized server keeps its own.
  std::string_view raw_severity = fields.severity;
  for (const auto& [code, value] : fields.other) {
    if (code == error_field::kSeverityRaw) raw_severity = value;
  }
  field(error_field::kSeverityRaw, raw_severity);
  if (!fields.sqlstate.empty()) field(error_field::kSqlState, fields.sqlstate);
  field(error_field::kMessage, fields.message);
  if (!fields.detail.empty()) field(error_field::kDetail, fields.detail);
  if (!fields.hint.empty()) field(error_field::kHint, fields.hint);
  for (const auto& [code, value] : fields.other) {
    // Code 0 is the list terminator and the named fields were written above.
    if (code == 0 || code == error_field::kSeverity || code == error_field::kSeverityRaw ||
        code == error_field::kSqlState || code == error_field::kMessage ||
        code == error_field::kDetail || code == error_field::kHint) {
      continue;
    }
    field(code, value);
  }
  w.byte(0);
}

}  // namespace

void append_authentication_ok(std::string& out) {
  MessageWriter(out, backend::kAuthentication).int32(auth::kOk);
}

void append_authentication_cleartext(std::string& out) {
  MessageWriter(out, backend::kAuthentication).int32(auth::kCleartextPassword);
}

void append_authentication_md5(std::string& out, std::array<std::uint8_t, 4> salt) {
  MessageWriter(out, backend::kAuthentication).int32(auth::kMd5Password).bytes(salt);
}

void append_authentication_sasl(std::string& out, const std::vector<std::string>& mechanisms) {
  MessageWriter w(out, backend::kAuthentication);
  w.int32(auth::kSasl);
  for (const auto& mechanism : mechanisms) w.cstring(mechanism);
  w.byte(0);
}

void append_authentication_sasl_continue(std::string& out, std::string_view data) {
  MessageWriter(out, backend::kAuthentication).int32(auth::kSaslContinue).bytes(data);
}

void append_authentication_sasl_final(std::string& out, std::string_view data) {
  MessageWriter(out, backend::kAuthentication).int32(auth::kSaslFinal).bytes(data);
}

void append_parameter_status(std::string& out, std::string_view name, std::string_view value) {
  MessageWriter(out, backend::kParameterStatus).cstring(name).cstring(value);
}

void append_backend_key_data(std::string& out, std::int32_t process_id, std::int32_t secret_key) {
  MessageWriter(out, backend::kBackendKeyData).int32(process_id).int32(secret_key);
}

void append_ready_for_query(std::string& out, char status) {
  MessageWriter(out, backend::kReadyForQuery).byte(static_cast<std::uint8_t>(status));
}

void append_error_response(std::string& out, const ErrorFields& fields) {
  append_fields(out, backend::kErrorResponse, fields);
}

void append_notice_response(std::string& out, const ErrorFields& fields) {
  append_fields(out, backend::kNoticeResponse, fields);
}

void append_negotiate_protocol_version(std::string& out, std::int32_t newest_minor,
                                       const std::vector<std::string>& unrecognized_options) {
  MessageWriter w(out, backend::kNegotiateProtocolVersion);
  w.int32(make_protocol_version(3, newest_minor));
  w.int32(static_cast<std::int32_t>(unrecognized_options.size()));
  for (const auto& option : unrecognized_options) w.cstring(option);
}

void append_command_complete(std::string& out, std::string_view tag) {
  MessageWriter(out, backend::kCommandComplete).cstring(tag);
}

void append_empty_query_response(std::string& out) { MessageWriter(out, backend::kEmptyQuery); }
void append_parse_complete(std::string& out) { MessageWriter(out, backend::kParseComplete); }
void append_bind_complete(std::string& out) { MessageWriter(out, backend::kBindComplete); }
void append_close_complete(std::string& out) { MessageWriter(out, backend::kCloseComplete); }
void append_no_data(std::string& out) { MessageWriter(out, backend::kNoData); }

void append_row_description(std::string& out, const std::vector<RowDescriptionField>& fields) {
  MessageWriter w(out, backend::kRowDescription);
  w.int16(static_cast<std::int16_t>(fields.size()));
  for (const auto& f : fields) {
    w.cstring(f.name).int32(f.table_oid).int16(f.column).int32(f.type_oid).int16(f.type_size);
    w.int32(f.type_mod).int16(f.format);
  }
}

void append_data_row(std::string& out, const std::vector<std::optional<std::string>>& values) {
  MessageWriter w(out, backend::kDataRow);
  w.int16(static_cast<std::int16_t>(values.size()));
  for (const auto& value : values) {
    if (!value) {
      w.int32(-1);
    } else {
      w.int32(static_cast<std::int32_t>(value->size())).bytes(*value);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Parsers

namespace {

// Reserve no more than the payload could possibly hold, so a forged count cannot make us
// allocate much.
template <typename T>
void reserve_bounded(std::vector<T>& v, std::size_t count, std::size_t remaining,
                     std::size_t min_wire_size) {
  v.reserve(std::min(count, remaining / min_wire_size));
}

// A list of Int16 values preceded by its Int16 count.
bool read_int16_list(MessageReader& r, std::vector<std::int16_t>& out) {
  auto count = r.int16();
  if (!count || *count < 0) return false;
  reserve_bounded(out, static_cast<std::size_t>(*count), r.remaining(), 2);
  for (int i = 0; i < *count; ++i) {
    auto value = r.int16();
    if (!value) return false;
    out.push_back(*value);
  }
  return true;
}

// Int16 count, then per value Int32 length (-1 = NULL) and the bytes (Bind, DataRow).
bool read_value_list(MessageReader& r,
                     std::vector<std::optional<std::span<const std::uint8_t>>>& out) {
  auto count = r.int16();
  if (!count || *count < 0) return false;
  reserve_bounded(out, static_cast<std::size_t>(*count), r.remaining(), 4);
  for (int i = 0; i < *count; ++i) {
    auto length = r.int32();
    if (!length || *length < -1) return false;
    if (*length == -1) {
      out.emplace_back(std::nullopt);
      continue;
    }
    auto value = r.bytes(static_cast<std::size_t>(*length));
    if (!value) return false;
    out.emplace_back(*value);
  }
  return true;
}

std::optional<std::string_view> parse_single_cstring(std::span<const std::uint8_t> payload) {
  MessageReader r(payload);
  auto text = r.cstring();
  if (!text || !r.at_end()) return std::nullopt;
  return text;
}

std::optional<std::pair<char, std::string_view>> parse_target_and_name(
    std::span<const std::uint8_t> payload) {
  MessageReader r(payload);
  auto target = r.byte();
  if (!target || (*target != kTargetStatement && *target != kTargetPortal)) return std::nullopt;
  auto name = r.cstring();
  if (!name || !r.at_end()) return std::nullopt;
  return std::pair<char, std::string_view>{static_cast<char>(*target), *name};
}

std::optional<std::uint64_t> parse_count(std::string_view digits) {
  if (digits.empty()) return std::nullopt;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<ErrorFields> parse_error_fields(std::span<const std::uint8_t> payload) {
  MessageReader r(payload);
  ErrorFields fields;
  fields.severity.clear();
  std::optional<std::string> raw_severity;
  while (true) {
    auto code = r.byte();
    if (!code) return std::nullopt;  // no terminator
    if (*code == 0) break;
    auto value = r.cstring();
    if (!value) return std::nullopt;
    switch (static_cast<char>(*code)) {
      case error_field::kSeverity:
        fields.severity = *value;
        break;
      case error_field::kSeverityRaw:
        raw_severity = std::string(*value);
        break;
      case error_field::kSqlState:
        fields.sqlstate = *value;
        break;
      case error_field::kMessage:
        fields.message = *value;
        break;
      case error_field::kDetail:
        fields.detail = *value;
        break;
      case error_field::kHint:
        fields.hint = *value;
        break;
      default:
        fields.other.emplace_back(static_cast<char>(*code), std::string(*value));
        break;
    }
  }
  if (!r.at_end()) return std::nullopt;
  if (fields.severity.empty() && raw_severity) fields.severity = *raw_severity;
  // A 'V' equal to 'S' is what the builder derives anyway; keep only one that differs (a server
  // with localized messages), so that relaying the fields reproduces it.
  if (raw_severity && *raw_severity != fields.severity) {
    fields.other.insert(fields.other.begin(), {error_field::kSeverityRaw, *raw_severity});
  }
  return fields;
}

std::optional<char> parse_ready_for_query(std::span<const std::uint8_t> payload) {
  if (payload.size() != 1) return std::nullopt;
  const char status = static_cast<char>(payload[0]);
  if (status != txn_status::kIdle && status != txn_status::kInTransaction &&
      status != txn_status::kFailed) {
    return std::nullopt;
  }
  return status;
}

std::optional<AuthenticationRequest> parse_authentication(std::span<const std::uint8_t> payload) {
  MessageReader r(payload);
  auto code = r.int32();
  if (!code) return std::nullopt;
  AuthenticationRequest request;
  request.code = *code;
  request.data = r.rest();
  // Fixed-size requests must have exactly their size; the others carry free-form data.
  switch (request.code) {
    case auth::kOk:
    case auth::kCleartextPassword:
      if (!request.data.empty()) return std::nullopt;
      break;
    case auth::kMd5Password:
      if (request.data.size() != 4) return std::nullopt;
      break;
    default:
      break;
  }
  return request;
}

std::optional<std::vector<std::string>> parse_sasl_mechanisms(std::span<const std::uint8_t> data) {
  MessageReader r(data);
  std::vector<std::string> mechanisms;
  while (true) {
    auto name = r.cstring();
    if (!name) return std::nullopt;
    if (name->empty()) break;
    mechanisms.emplace_back(*name);
  }
  if (!r.at_end()) return std::nullopt;
  return mechanisms;
}

std::optional<std::pair<std::string, std::string>> parse_parameter_status(
    std::span<const std::uint8_t> payload) {
  MessageReader r(payload);
  auto name = r.cstring();
  auto value = name ? r.cstring() : std::nullopt;
  if (!value || !r.at_end()) return std::nullopt;
  return std::pair<std::string, std::string>{std::string(*name), std::string(*value)};
}

std::optional<std::pair<std::int32_t, std::int32_t>> parse_backend_key_data(
    std::span<const std::uint8_t> payload) {
  if (payload.size() != 8) return std::nullopt;
  MessageReader r(payload);
  const auto pid = r.int32();
  const auto key = r.int32();
  return std::pair<std::int32_t, std::int32_t>{*pid, *key};
}

std::optional<std::string> parse_command_complete(std::span<const std::uint8_t> payload) {
  auto tag = parse_single_cstring(payload);
  if (!tag) return std::nullopt;
  return std::string(*tag);
}

std::optional<std::uint64_t> rows_from_command_tag(std::string_view tag) {
  const auto space = tag.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::string_view command = tag.substr(0, space);
  std::string_view rest = tag.substr(space + 1);
  if (command == "INSERT") {
    // "INSERT oid rows"; the oid is always 0 since PostgreSQL 12 but still present.
    const auto second = rest.find(' ');
    if (second == std::string_view::npos || !parse_count(rest.substr(0, second))) {
      return std::nullopt;
    }
    return parse_count(rest.substr(second + 1));
  }
  if (command == "UPDATE" || command == "DELETE" || command == "SELECT" || command == "COPY" ||
      command == "MERGE" || command == "FETCH" || command == "MOVE") {
    return parse_count(rest);
  }
  return std::nullopt;
}

std::optional<NegotiateProtocolVersion> parse_negotiate_protocol_version(
    std::span<const std::uint8_t> payload) {
  MessageReader r(payload);
  auto version = r.int32();
  auto count = version ? r.int32() : std::nullopt;
  if (!count || *count < 0) return std::nullopt;
  NegotiateProtocolVersion message;
  message.newest_version = *version;
  reserve_bounded(message.unrecognized_options, static_cast<std::size_t>(*count), r.remaining(), 1);
  for (std::int32_t i = 0; i < *count; ++i) {
    auto option = r.cstring();
    if (!option) return std::nullopt;
    message.unrecognized_options.emplace_back(*option);
  }
  if (!r.at_end()) return std::nullopt;
  return message;
}

std::optional<std::vector<RowDescriptionField>> parse_row_description(
    std::span<const std::uint8_t> payload) {
  MessageReader r(payload);
  auto count = r.int16();
  if (!count || *count < 0) return std::nullopt;
  std::vector<RowDescriptionField> fields;
  // Smallest field on the wire: empty name (1) + 4 + 2 + 4 + 2 + 4 + 2 = 19 bytes.
  reserve_bounded(fields, static_cast<std::size_t>(*count), r.remaining(), 19);
  for (int i = 0; i < *count; ++i) {
    RowDescriptionField field;
    auto name = r.cstring();
    auto table_oid = name ? r.int32() : std::nullopt;
    auto column = table_oid ? r.int16() : std::nullopt;
    auto type_oid = column ? r.int32() : std::nullopt;
    auto type_size = type_oid ? r.int16() : std::nullopt;
    auto type_mod = type_size ? r.int32() : std::nullopt;
    auto format = type_mod ? r.int16() : std::nullopt;
    if (!format) return std::nullopt;
    field.name = *name;
    field.table_oid = *table_oid;
    field.column = *column;
    field.type_oid = *type_oid;
    field.type_size = *type_size;
    field.type_mod = *type_mod;
    field.format = *format;
    fields.push_back(std::move(field));
  }
  if (!r.at_end()) return std::nullopt;
  return fields;
}

std::optional<std::vector<std::optional<std::span<const std::uint8_t>>>> parse_data_row(
    std::span<const std::uint8_t> payload) {
  MessageReader r(payload);
  std::vector<std::optional<std::span<const std::uint8_t>>> values;
  if (!read_value_list(r, values) || !r.at_end()) return std::nullopt;
  return values;
}

std::optional<std::string_view> parse_query(std::span<const std::uint8_t> payload) {
  return parse_single_cstring(payload);
}

std::optional<std::string_view> parse_password(std::span<const std::uint8_t> payload) {
  return parse_single_cstring(payload);
}

std::optional<ParseMessage> parse_parse(std::span<const std::uint8_t> payload) {
  MessageReader r(payload);
  ParseMessage message;
  auto name = r.cstring();
  auto sql = name ? r.cstring() : std::nullopt;
  auto count = sql ? r.int16() : std::nullopt;
  if (!count || *count < 0) return std::nullopt;
  message.name = *name;
  message.sql = *sql;
  reserve_bounded(message.param_oids, static_cast<std::size_t>(*count), r.remaining(), 4);
  for (int i = 0; i < *count; ++i) {
    auto oid = r.int32();
    if (!oid) return std::nullopt;
    message.param_oids.push_back(*oid);
  }
  if (!r.at_end()) return std::nullopt;
  return message;
}

std::optional<BindMessage> parse_bind(std::span<const std::uint8_t> payload) {
  MessageReader r(payload);
  BindMessage message;
  auto portal = r.cstring();
  auto statement = portal ? r.cstring() : std::nullopt;
  if (!statement) return std::nullopt;
  message.portal = *portal;
  message.statement = *statement;
  if (!read_int16_list(r, message.param_formats)) return std::nullopt;
  if (!read_value_list(r, message.params)) return std::nullopt;
  if (!read_int16_list(r, message.result_formats)) return std::nullopt;
  if (!r.at_end()) return std::nullopt;
  return message;
}

std::optional<std::pair<char, std::string_view>> parse_close(
    std::span<const std::uint8_t> payload) {
  return parse_target_and_name(payload);
}

std::optional<std::pair<char, std::string_view>> parse_describe(
    std::span<const std::uint8_t> payload) {
  return parse_target_and_name(payload);
}

std::optional<std::pair<std::string_view, std::int32_t>> parse_execute(
    std::span<const std::uint8_t> payload) {
  MessageReader r(payload);
  auto portal = r.cstring();
  auto max_rows = portal ? r.int32() : std::nullopt;
  if (!max_rows || !r.at_end()) return std::nullopt;
  return std::pair<std::string_view, std::int32_t>{*portal, *max_rows};
}

std::optional<std::pair<std::string_view, std::span<const std::uint8_t>>>
parse_sasl_initial_response(std::span<const std::uint8_t> payload) {
  MessageReader r(payload);
  auto mechanism = r.cstring();
  auto length = mechanism ? r.int32() : std::nullopt;
  if (!length || *length < -1) return std::nullopt;
  std::span<const std::uint8_t> data;
  if (*length >= 0) {
    auto bytes = r.bytes(static_cast<std::size_t>(*length));
    if (!bytes) return std::nullopt;
    data = *bytes;
  }
  if (!r.at_end()) return std::nullopt;
  return std::pair<std::string_view, std::span<const std::uint8_t>>{*mechanism, data};
}

}  // namespace pgdual::protocol
