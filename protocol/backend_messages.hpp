#pragma once
// Backend messages (server -> client): a builder and, where pgdual reads it, a parser of each.
// ErrorResponse and NoticeResponse are in protocol/error_fields.hpp; the conventions of builders
// and parsers are in protocol/messages.hpp.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgdual::protocol {

// Builders.

void append_authentication_ok(std::string& out);
void append_authentication_cleartext(std::string& out);
void append_authentication_md5(std::string& out, std::array<std::uint8_t, 4> salt);
void append_authentication_sasl(std::string& out, const std::vector<std::string>& mechanisms);
void append_authentication_sasl_continue(std::string& out, std::string_view data);
void append_authentication_sasl_final(std::string& out, std::string_view data);
void append_parameter_status(std::string& out, std::string_view name, std::string_view value);
void append_backend_key_data(std::string& out, std::int32_t process_id, std::int32_t secret_key);
void append_ready_for_query(std::string& out, char status);  // 'I', 'T' or 'E'
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

// Parsers (and the builders of the two messages that carry a parsed struct).

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

}  // namespace pgdual::protocol
