#include "protocol/frontend_messages.hpp"

#include "protocol/constants.hpp"
#include "protocol/message_reader.hpp"
#include "protocol/message_writer.hpp"
#include "protocol/payload_readers.hpp"

namespace pgdual::protocol {

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
// Parsers

namespace {

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

std::optional<std::pair<char, std::string_view>> parse_target_and_name(
    std::span<const std::uint8_t> payload) {
  MessageReader r(payload);
  auto target = r.byte();
  if (!target || (*target != kTargetStatement && *target != kTargetPortal)) return std::nullopt;
  auto name = r.cstring();
  if (!name || !r.at_end()) return std::nullopt;
  return std::pair<char, std::string_view>{static_cast<char>(*target), *name};
}

}  // namespace

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
