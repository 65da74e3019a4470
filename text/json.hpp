#pragma once
// Text for the JSON lines pgdual writes (discrepancy records, dead letters): strict UTF-8
// checks and JSON string escaping, in one place.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pgdual::text {

// Length of the well-formed UTF-8 sequence starting at text[i] (RFC 3629, table 3-7 of the
// Unicode standard: no overlongs, no surrogates, nothing above U+10FFFF), 0 if there is none.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i);

// Whether all of `text` is well-formed UTF-8.
bool is_utf8(std::string_view text);

// Appends `text` as a JSON string: quotes, backslash and control characters escaped (\u00XX),
// valid UTF-8 kept as is, each byte of an invalid UTF-8 sequence written as \ufffd.
void append_json_string(std::string& out, std::string_view text);
// The same, as a value of its own: "text" quoted and escaped.
std::string json_string(std::string_view text);
// ["a","b"]: each element as json_string writes it.
std::string json_string_array(const std::vector<std::string>& values);

// Every byte as two lowercase hex digits (bytea literals, binary values in JSON lines).
std::string hex_lower(std::string_view bytes);

}  // namespace pgdual::text
