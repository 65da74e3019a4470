#include "protocol/error_fields.hpp"

#include "protocol/constants.hpp"
#include "protocol/message_reader.hpp"
#include "protocol/message_writer.hpp"

namespace pgdual::protocol {

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

void append_error_response(std::string& out, const ErrorFields& fields) {
  append_fields(out, backend::kErrorResponse, fields);
}

void append_notice_response(std::string& out, const ErrorFields& fields) {
  append_fields(out, backend::kNoticeResponse, fields);
}

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

}  // namespace pgdual::protocol
