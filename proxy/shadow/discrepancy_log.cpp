#include "proxy/shadow/discrepancy_log.hpp"

#include "text/json.hpp"
#include "text/redact.hpp"

namespace pgdual::proxy::shadow {

namespace {

void append_value(std::string& out, const FieldValue& value, bool redact) {
  if (!value) {
    out += "null";
  } else {
    text::append_json_string(out, redact ? text::redacted(*value) : std::string_view(*value));
  }
}

void append_member(std::string& out, std::string_view key, std::string_view value) {
  out += ',';
  text::append_json_string(out, key);
  out += ':';
  text::append_json_string(out, value);
}

}  // namespace

std::string discrepancy_json(const Difference& difference, const DiscrepancyContext& ctx,
                             bool full_values) {
  const bool data_values = difference.kind == DifferenceKind::field ||
                           difference.kind == DifferenceKind::missing_row ||
                           difference.kind == DifferenceKind::extra_row;
  const bool redact_values = !full_values && data_values;
  const bool redact_entity = !full_values && !difference.entity_is_position;
  std::string out = "{\"event\":\"shadow_read_mismatch\"";
  append_member(out, "fingerprint", ctx.fingerprint);
  append_member(out, "query", ctx.normalized_query);
  append_member(out, "table", ctx.table);
  append_member(out, "session", ctx.session);
  out += ",\"entity_id\":{";
  for (std::size_t i = 0; i < difference.entity_id.size(); ++i) {
    if (i > 0) out += ',';
    text::append_json_string(out, difference.entity_id[i].first);
    out += ':';
    append_value(out, difference.entity_id[i].second, redact_entity);
  }
  out += '}';
  append_member(out, "field", difference.field);
  append_member(out, "kind", to_string(difference.kind));
  out += ",\"old\":";
  append_value(out, difference.primary_value, redact_values);
  out += ",\"new\":";
  append_value(out, difference.secondary_value, redact_values);
  out += '}';
  return out;
}

}  // namespace pgdual::proxy::shadow
