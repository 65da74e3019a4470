#pragma once

// Builders and parsers of individual protocol messages ("Message Formats" in the PostgreSQL
// protocol documentation). Builders append one complete message (type byte and length word
// included) to a byte buffer held in a std::string. Parsers take a frame payload (the bytes after
// the length word, as decode_frame reports it), return std::nullopt on malformed input, never read
// out of bounds, and require the whole payload to be consumed. Views they return point into the
// payload.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/constants.hpp"

namespace pgdual::protocol {

// Writes one message into `out`: the constructor emits the type byte (none for startup-phase
// packets) and a placeholder length, finish() patches the length in. Helpers for other builders
// (SCRAM, COPY) that need a message shape not listed below.
class MessageWriter {
 public:
  // type == 0 writes a startup-phase packet (no type byte).
  MessageWriter(std::string& out, char type);
  MessageWriter(const MessageWriter&) = delete;
  MessageWriter& operator=(const MessageWriter&) = delete;
  ~MessageWriter();

  MessageWriter& int32(std::int32_t value);
  MessageWriter& int16(std::int16_t value);
  MessageWriter& byte(std::uint8_t value);
  MessageWriter& cstring(std::string_view text);  // appends text and a NUL
  MessageWriter& bytes(std::string_view data);
  MessageWriter& bytes(std::span<const std::uint8_t> data);
  // Patches the length word; called by the destructor if not called before.
  void finish();

 private:
  std::string& out_;
  std::size_t length_offset_;
  bool finished_ = false;
};

// ---------------------------------------------------------------------------------------------
// Frontend messages (client -> server).

void append_startup(std::string& out,
                    const std::vector<std::pair<std::string, std::string>>& params);  // 3.0
void append_ssl_request(std::string& out);
void append_gssenc_request(std::string& out);
void append_cancel_request(std::string& out, std::int32_t process_id, std::int32_t secret_key);
void append_query(std::string& out, std::string_view sql);
// One Query message holding `sql`.
std::string query_message(std::string_view sql);
void append_password(std::string& out, std::string_view password);
void append_sasl_initial_response(std::string& out, std::string_view mechanism,
                                  std::string_view data);
void append_sasl_response(std::string& out, std::string_view data);
void append_terminate(std::string& out);
void append_sync(std::string& out);
void append_flush(std::string& out);
void append_parse(std::string& out, std::string_view name, std::string_view sql,
                  const std::vector<std::int32_t>& param_oids);
void append_bind(std::string& out, std::string_view portal, std::string_view statement,
                 const std::vector<std::int16_t>& param_formats,
                 const std::vector<std::optional<std::string>>& params,
                 const std::vector<std::int16_t>& result_formats);
void append_describe(std::string& out, char target, std::string_view name);  // 'S' or 'P'
void append_execute(std::string& out, std::string_view portal, std::int32_t max_rows);
void append_close(std::string& out, char target, std::string_view name);  // 'S' or 'P'
// CopyData and CopyDone have the same shape in both directions.
void append_copy_data(std::string& out, std::string_view data);
void append_copy_done(std::string& out);
void append_copy_fail(std::string& out, std::string_view message);

// ---------------------------------------------------------------------------------------------
// Backend messages (server -> client).

struct ErrorFields {
  std::string severity = "ERROR";
  std::string sqlstate;
  std::string message;
  std::string detail;
  std::string hint;
  // Every other field, in order (P, W, s, t, F, L, R, ...). A 'V' here (non-localized severity
  // that differs from `severity`) is written in place of the one derived from `severity`.
  std::vector<std::pair<char, std::string>> other;
};

// Severity goes out both as 'S' and as 'V'.
ErrorFields make_error(std::string sqlstate, std::string message, std::string severity = "ERROR");

void append_authentication_ok(std::string& out);
void append_authentication_cleartext(std::string& out);
void append_authentication_md5(std::string& out, std::array<std::uint8_t, 4> salt);
void append_authentication_sasl(std::string& out, const std::vector<std::string>& mechanisms);
void append_authentication_sasl_continue(std::string& out, std::string_view data);
void append_authentication_sasl_final(std::string& out, std::string_view data);
void append_parameter_status(std::string& out, std::string_view name, std::string_view value);
void append_backend_key_data(std::string& out, std::int32_t process_id, std::int32_t secret_key);
void append_ready_for_query(std::string& out, char status);  // 'I', 'T' or 'E'
void append_error_response(std::string& out, const ErrorFields& fields);
void append_notice_response(std::string& out, const ErrorFields& fields);
// The version word on the wire is the full version (3 << 16 | newest_minor): that is what
// PostgreSQL sends (PG_PROTOCOL_LATEST) and what libpq checks.
void append_negotiate_protocol_version(std::string& out, std::int32_t newest_minor,
                                       const std::vector<std::string>& unrecognized_options);
void append_command_complete(std::string& out, std::string_view tag);
void append_empty_query_response(std::string& out);
void append_parse_complete(std::string& out);
void append_bind_complete(std::string& out);
void append_close_complete(std::string& out);
void append_no_data(std::string& out);

// ---------------------------------------------------------------------------------------------
// Parsers of backend messages.

// ErrorResponse ('E') or NoticeResponse ('N') body. `severity` comes from 'S' (from 'V' when 'S' is
// absent; empty when both are); a 'V' that differs from 'S' is kept in `other`. Unknown field codes
// are kept in `other` in order. A repeated field: the last one wins.
std::optional<ErrorFields> parse_error_fields(std::span<const std::uint8_t> payload);

// ReadyForQuery: the status byte, one of 'I', 'T', 'E'.
std::optional<char> parse_ready_for_query(std::span<const std::uint8_t> payload);

struct AuthenticationRequest {
  std::int32_t code = 0;               // auth::kOk, auth::kMd5Password, auth::kSasl, ...
  std::span<const std::uint8_t> data;  // what follows the code (salt, mechanisms, SASL data)
};
std::optional<AuthenticationRequest> parse_authentication(std::span<const std::uint8_t> payload);
// The mechanism list of AuthenticationSASL (the data after code 10).
std::optional<std::vector<std::string>> parse_sasl_mechanisms(std::span<const std::uint8_t> data);

std::optional<std::pair<std::string, std::string>> parse_parameter_status(
    std::span<const std::uint8_t> payload);
// (process id, secret key)
std::optional<std::pair<std::int32_t, std::int32_t>> parse_backend_key_data(
    std::span<const std::uint8_t> payload);
std::optional<std::string> parse_command_complete(std::span<const std::uint8_t> payload);

// Rows a command affected or returned, from its CommandComplete tag: "INSERT 0 5" -> 5,
// "UPDATE 3", "DELETE 0", "SELECT 2", "COPY 10", "MERGE 1", "FETCH 4", "MOVE 1" -> the count;
// tags without a count ("BEGIN", "CREATE TABLE") -> std::nullopt.
std::optional<std::uint64_t> rows_from_command_tag(std::string_view tag);

struct NegotiateProtocolVersion {
  std::int32_t newest_version = 0;  // full version word, e.g. 196608 for 3.0
  std::vector<std::string> unrecognized_options;
};
std::optional<NegotiateProtocolVersion> parse_negotiate_protocol_version(
    std::span<const std::uint8_t> payload);

struct RowDescriptionField {
  std::string name;
  std::int32_t table_oid = 0;
  std::int16_t column = 0;
  std::int32_t type_oid = 0;
  std::int16_t type_size = 0;
  std::int32_t type_mod = 0;
  std::int16_t format = 0;
};
std::optional<std::vector<RowDescriptionField>> parse_row_description(
    std::span<const std::uint8_t> payload);
void append_row_description(std::string& out, const std::vector<RowDescriptionField>& fields);

// Column values; std::nullopt entries are SQL NULLs.
std::optional<std::vector<std::optional<std::span<const std::uint8_t>>>> parse_data_row(
    std::span<const std::uint8_t> payload);
void append_data_row(std::string& out, const std::vector<std::optional<std::string>>& values);

// ---------------------------------------------------------------------------------------------
// Parsers of frontend messages.

std::optional<std::string_view> parse_query(std::span<const std::uint8_t> payload);
// PasswordMessage: the password (or "md5..." hash) string.
std::optional<std::string_view> parse_password(std::span<const std::uint8_t> payload);

struct ParseMessage {
  std::string_view name, sql;
  std::vector<std::int32_t> param_oids;
};
std::optional<ParseMessage> parse_parse(std::span<const std::uint8_t> payload);

struct BindMessage {
  std::string_view portal, statement;
  std::vector<std::int16_t> param_formats;
  std::vector<std::optional<std::span<const std::uint8_t>>> params;  // nullopt = SQL NULL
  std::vector<std::int16_t> result_formats;
};
std::optional<BindMessage> parse_bind(std::span<const std::uint8_t> payload);

// (target 'S' or 'P', name)
std::optional<std::pair<char, std::string_view>> parse_close(std::span<const std::uint8_t> payload);
std::optional<std::pair<char, std::string_view>> parse_describe(
    std::span<const std::uint8_t> payload);
// (portal, max rows; 0 = no limit)
std::optional<std::pair<std::string_view, std::int32_t>> parse_execute(
    std::span<const std::uint8_t> payload);
// (mechanism, initial client response). A data length of -1 ("no initial response") yields an
// empty span, as does length 0.
std::optional<std::pair<std::string_view, std::span<const std::uint8_t>>>
parse_sasl_initial_response(std::span<const std::uint8_t> payload);

// Views a byte span as text (for payloads such as SASLResponse or CopyData).
inline std::string_view as_string_view(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}
inline std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

}  // namespace pgdual::protocol
