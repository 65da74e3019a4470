#include "protocol/backend_messages.hpp"

#include <charconv>

#include "protocol/constants.hpp"
#include "protocol/message_reader.hpp"
#include "protocol/message_writer.hpp"
#include "protocol/payload_readers.hpp"

namespace pgdual::protocol {

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

std::optional<std::uint64_t> parse_count(std::string_view digits) {
  if (digits.empty()) return std::nullopt;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

}  // namespace

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

}  // namespace pgdual::protocol
