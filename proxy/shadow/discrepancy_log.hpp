#pragma once

// Shadow reads: one JSON line per reported Difference, for the discrepancy log.

#include <string>
#include <string_view>

#include "proxy/shadow/result_compare.hpp"
#include "text/json.hpp"

namespace pgdual::proxy::shadow {

struct DiscrepancyContext {
  std::string fingerprint;       // the statement's fingerprint
  std::string normalized_query;  // literals replaced by placeholders
  std::string table;
  std::string session;
};

// One line (no newline at the end) with the keys event ("shadow_read_mismatch"), fingerprint,
// query, table, session, entity_id (object), field, kind, old (primary value), new (secondary
// value). Unless `full_values`, every data value (old/new of field, missing_row and extra_row
// differences, and entity id values) becomes "sha256:" + the first 16 hex digits of its SHA-256;
// NULL stays null. Row positions, column lists, digests and statuses are not data and stay as
// they are. Note that an unsalted hash of a low-entropy value (a flag, a small number) can be
// reversed by trying candidates: redaction hides values from a casual reader only.
std::string discrepancy_json(const Difference& difference, const DiscrepancyContext& ctx,
                             bool full_values);

}  // namespace pgdual::proxy::shadow
