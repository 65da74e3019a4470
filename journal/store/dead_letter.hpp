#pragma once
// The dead-letter log's line format. A record that retrying cannot apply ends
// in dead-letter.log with everything an operator needs to apply it by hand or
// to reconcile its tables: one JSON object per line (easy to grep, to tail and
// to load with jq), holding every field of the record, the statements with
// their parameter values, and why and when it was given up.
//
// Values are data the client sent: a text value or COPY data that is valid
// UTF-8 is written as a JSON string; a binary-format value, or bytes that are
// not UTF-8, as lowercase hex under a "hex" key so the line stays valid JSON.

#include <chrono>
#include <string>
#include <string_view>

#include "journal/record/record.hpp"

namespace pgdual::journal {

// One line, '\n' included.
std::string format_dead_letter(const JournalRecord& record, std::string_view dead_reason,
                               std::chrono::system_clock::time_point dead_at);

// RFC 3339 UTC with microseconds: "2024-05-01T12:00:00.000000Z".
std::string format_utc(std::chrono::system_clock::time_point when);

}  // namespace pgdual::journal
