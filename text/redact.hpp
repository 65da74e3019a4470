#pragma once
// A data value as pgdual logs it when values are redacted (shadow_read.log_values: redacted, the
// default): "sha256:" and the first 16 hex digits of its SHA-256. Equal values give equal text,
// so two logs still show whether the stores held the same value. An unsalted hash of a
// low-entropy value (a flag, a small number) can be reversed by trying candidates: redaction
// hides values from a casual reader only.

#include <string>
#include <string_view>

namespace pgdual::text {

std::string redacted(std::string_view value);

}  // namespace pgdual::text
