#include "proxy/discrepancy_log.hpp"

#include <openssl/evp.h>

#include <array>

namespace pgdual::proxy::shadow {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Length of the well-formed UTF-8 sequence starting at text[i] (RFC 3629, table 3-7 of the
// Unicode standard: no overlongs, no surrogates, nothing above U+10FFFF), 0 if there is none.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xbf;  // bounds of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = i + 2; k < i + length; ++k) {
    if (byte(k) < 0x80 || byte(k) > 0xbf) return 0;
  }
  return length;
}

std::string redacted(std::string_view value) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  std::string out = "sha256:";
  if (EVP_Digest(value.data(), value.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length < 8) {
    return out + "unavailable";  // never the value itself
  }
  for (std::size_t i = 0; i < 8; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

void append_value(std::string& out, const FieldValue& value, bool redact) {
  if (!value) {
    out += "null";
  } else {
    append_json_string(out, redact ? redacted(*value) : std::string_view(*value));
  }
}

void append_member(std::string& out, std::string_view key, std::string_view value) {
  out += ',';
  append_json_string(out, key);
  out += ':';
  append_json_string(out, value);
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else if (c >= 0x80) {
      const std::size_t length = utf8_sequence_length(text, i);
      if (length == 0) {
        out += "\\ufffd";
      } else {
        out.append(text.substr(i, length));
        i += length;
        continue;
      }
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  out += '"';
}

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
    append_json_string(out, difference.entity_id[i].first);
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
