#pragma once
// Frontend messages (client -> server): a builder and, where pgdual reads it, a parser of each.
// The conventions of builders and parsers are in protocol/messages.hpp.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgdual::protocol {

// Builders.

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

// Parsers.

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

}  // namespace pgdual::protocol
