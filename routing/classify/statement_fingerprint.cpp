#include "routing/classify/statement_fingerprint.hpp"

#include <pg_query.h>

namespace pgdual::routing {

StatementIdentity identify_statement(std::string_view sql) {
  const std::string text(sql);
  StatementIdentity identity;
  PgQueryFingerprintResult fingerprint = pg_query_fingerprint(text.c_str());
  if (fingerprint.error == nullptr && fingerprint.fingerprint_str != nullptr) {
    identity.fingerprint = fingerprint.fingerprint_str;
  }
  pg_query_free_fingerprint_result(fingerprint);
  PgQueryNormalizeResult normalized = pg_query_normalize(text.c_str());
  identity.normalized = normalized.error == nullptr && normalized.normalized_query != nullptr
                            ? std::string(normalized.normalized_query)
                            : text;
  pg_query_free_normalize_result(normalized);
  return identity;
}

}  // namespace pgdual::routing
