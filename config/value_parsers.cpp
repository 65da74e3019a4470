#include "config/value_parsers.hpp"

#include <cctype>
#include <charconv>
#include <limits>
#include <vector>

#include "text/ascii.hpp"

namespace pgdual::config {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool is_ident_start(char c) {
  // PostgreSQL also allows non-ASCII letters (bytes >= 0x80) in unquoted identifiers.
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

bool is_ident_char(char c) {
  return is_ident_start(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '$';
}

}  // namespace

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  if (text.empty()) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<HostPort> parse_host_port(std::string_view text) {
  HostPort out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    out.host = std::string(text.substr(0, colon));
    // An unbracketed IPv6 address would be ambiguous ("::1:6432").
    if (out.host.find(':') != std::string::npos) return std::nullopt;
    port_text = text.substr(colon + 1);
  }
  if (out.host.empty()) return std::nullopt;
  for (char c : out.host) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '[' || c == ']') {
      return std::nullopt;
    }
  }
  const auto port = parse_unsigned(port_text);
  if (!port || *port > 65535) return std::nullopt;
  out.port = static_cast<std::uint16_t>(*port);
  return out;
}

std::optional<bool> parse_bool(std::string_view text) {
  const std::string s = text::ascii_lower(text);
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  return std::nullopt;
}

std::optional<std::uint64_t> parse_byte_size(std::string_view text) {
  text = trim(text);
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const auto number = parse_unsigned(text.substr(0, digits));
  if (!number) return std::nullopt;
  const std::string unit = text::ascii_lower(trim(text.substr(digits)));
  std::uint64_t multiplier = 0;
  if (unit.empty() || unit == "b") {
    multiplier = 1;
  } else if (unit == "kb" || unit == "kib") {
    multiplier = std::uint64_t{1} << 10;
  } else if (unit == "mb" || unit == "mib") {
    multiplier = std::uint64_t{1} << 20;
  } else if (unit == "gb" || unit == "gib") {
    multiplier = std::uint64_t{1} << 30;
  } else {
    return std::nullopt;
  }
  if (*number > std::numeric_limits<std::uint64_t>::max() / multiplier) return std::nullopt;
  return *number * multiplier;
}

std::optional<std::string> normalise_qualified_name(std::string_view text, int max_parts) {
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (true) {
    std::string part;
    if (i < text.size() && text[i] == '"') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            part += '"';
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        part += text[i++];
      }
      if (!closed || part.empty()) return std::nullopt;
    } else {
      if (i >= text.size() || !is_ident_start(text[i])) return std::nullopt;
      while (i < text.size() && is_ident_char(text[i])) part += text[i++];
      part = text::ascii_lower(part);
    }
    parts.push_back(std::move(part));
    if (i == text.size()) break;
    if (text[i] != '.') return std::nullopt;
    ++i;
  }
  if (parts.empty() || static_cast<int>(parts.size()) > max_parts) return std::nullopt;
  std::string out;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    if (p > 0) out += '.';
    out += parts[p];
  }
  return out;
}

std::optional<std::string> normalise_table_name(std::string_view text) {
  auto name = normalise_qualified_name(text, 2);
  if (!name) return std::nullopt;
  // Two parts means a schema was given. Counting dots in the result would be wrong for a quoted
  // name containing a dot, so look at the input again.
  const auto one_part = normalise_qualified_name(text, 1);
  if (one_part) return "public." + *name;
  return name;
}

namespace {

// Length in bytes of the data a padded base64 text decodes to, or nullopt if it is not base64.
std::optional<std::size_t> base64_decoded_size(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '=') {
      if (i < text.size() - 2) return std::nullopt;
      ++padding;
      continue;
    }
    if (padding > 0) return std::nullopt;
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') return std::nullopt;
  }
  return text.size() / 4 * 3 - padding;
}

}  // namespace

bool valid_scram_verifier(std::string_view text) {
  constexpr std::string_view kPrefix = "SCRAM-SHA-256$";
  if (text.substr(0, kPrefix.size()) != kPrefix) return false;
  text.remove_prefix(kPrefix.size());
  const std::size_t dollar = text.find('$');
  if (dollar == std::string_view::npos) return false;
  const std::string_view params = text.substr(0, dollar);
  const std::string_view keys = text.substr(dollar + 1);
  const std::size_t colon1 = params.find(':');
  const std::size_t colon2 = keys.find(':');
  if (colon1 == std::string_view::npos || colon2 == std::string_view::npos) return false;
  const auto iterations = parse_unsigned(params.substr(0, colon1));
  if (!iterations || *iterations == 0 || *iterations > 0x7fffffff) return false;
  const auto salt = base64_decoded_size(params.substr(colon1 + 1));
  const auto stored_key = base64_decoded_size(keys.substr(0, colon2));
  const auto server_key = base64_decoded_size(keys.substr(colon2 + 1));
  return salt && *salt > 0 && stored_key == 32u && server_key == 32u;
}

std::string quote_for_message(std::string_view text) {
  constexpr std::size_t kMaxShown = 64;
  std::string out = "\"";
  std::size_t shown = 0;
  for (char c : text) {
    if (shown == kMaxShown) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
    ++shown;
  }
  out += '"';
  return out;
}

}  // namespace pgdual::config
