// format_dead_letter: a JournalRecord as one JSON line (see the header for why
// JSON lines and how values are written).

#include "journal/store/dead_letter.hpp"

#include <cstdio>
#include <ctime>

#include "text/json.hpp"

namespace pgdual::journal {

namespace {

// Short escapes (\n, \t) where JSON has them; the values were checked to be UTF-8.
void append_json_text(std::string& out, std::string_view text) {
  out.push_back('"');
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned char>(c));
          out += escaped;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

// "key":"text" or "key_hex":"..." for bytes that are not text.
void append_bytes(std::string& out, std::string_view key, std::string_view bytes, bool as_text) {
  out += '"';
  out += key;
  if (as_text && text::is_utf8(bytes)) {
    out += "\":";
    append_json_text(out, bytes);
  } else {
    out += "_hex\":\"" + text::hex_lower(bytes) + '"';
  }
}

void append_field(std::string& out, std::string_view key, std::string_view value) {
  out += ",\"";
  out += key;
  out += "\":";
  append_json_text(out, value);
}

void append_list(std::string& out, std::string_view key, const std::vector<std::string>& values) {
  out += ",\"";
  out += key;
  out += "\":[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    append_json_text(out, values[i]);
  }
  out += ']';
}

void append_statement(std::string& out, const JournalStatement& statement) {
  out += "{\"sql\":";
  append_json_text(out, statement.sql);
  out += ",\"params\":[";
  for (std::size_t i = 0; i < statement.param_values.size(); ++i) {
    const bool binary =
        i < statement.param_formats.size() && statement.param_formats[i] == ParamFormat::binary;
    const TypeOid oid = i < statement.param_type_oids.size() ? statement.param_type_oids[i] : 0;
    if (i > 0) out += ',';
    out += "{\"type_oid\":" + std::to_string(oid) + ",\"format\":\"";
    out += binary ? "binary\"," : "text\",";
    const auto& value = statement.param_values[i];
    if (value) {
      append_bytes(out, "value", *value, !binary);
    } else {
      out += "\"value\":null";
    }
    out += '}';
  }
  out += ']';
  if (statement.copy_data) {
    out += ',';
    append_bytes(out, "copy_data", *statement.copy_data, true);
  }
  out += '}';
}

}  // namespace

std::string format_utc(std::chrono::system_clock::time_point when) {
  using namespace std::chrono;
  const auto micros = duration_cast<microseconds>(when.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  long fraction = static_cast<long>(micros % 1000000);
  if (fraction < 0) fraction += 1000000, seconds -= 1;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[48];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, fraction);
  return text;
}

std::string format_dead_letter(const JournalRecord& record, std::string_view dead_reason,
                               std::chrono::system_clock::time_point dead_at) {
  std::string out = "{\"journal_id\":" + std::to_string(record.id);
  append_field(out, "instance", record.instance);
  out += ",\"session\":" + std::to_string(record.session);
  append_field(out, "created_at", format_utc(record.created_at));
  append_field(out, "dead_at", format_utc(dead_at));
  append_field(out, "dead_reason", dead_reason);
  append_field(out, "reason", record.reason);
  append_field(out, "sqlstate", record.sqlstate);
  out += ",\"attempts\":" + std::to_string(record.attempts);
  append_field(out, "last_error", record.last_error);
  append_list(out, "tables", record.tables);
  append_list(out, "session_state", record.session_state);
  out += ",\"statements\":[";
  for (std::size_t i = 0; i < record.statements.size(); ++i) {
    if (i > 0) out += ',';
    append_statement(out, record.statements[i]);
  }
  out += "]}\n";
  return out;
}

}  // namespace pgdual::journal
