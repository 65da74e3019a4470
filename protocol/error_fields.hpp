#pragma once
// The fields of ErrorResponse and NoticeResponse ("Error and Notice Message Fields" in the
// protocol documentation): what a backend reports, what pgdual relays and what it writes when it
// answers a client itself.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace pgdual::protocol {

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

void append_error_response(std::string& out, const ErrorFields& fields);
void append_notice_response(std::string& out, const ErrorFields& fields);

// ErrorResponse ('E') or NoticeResponse ('N') body. `severity` comes from 'S' (from 'V' when 'S' is
// absent; empty when both are); a 'V' that differs from 'S' is kept in `other`. Unknown field codes
// are kept in `other` in order. A repeated field: the last one wins.
std::optional<ErrorFields> parse_error_fields(std::span<const std::uint8_t> payload);

}  // namespace pgdual::protocol
