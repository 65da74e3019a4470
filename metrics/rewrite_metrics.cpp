#include "metrics/rewrite_metrics.hpp"

namespace pgdual::metrics {

std::string_view to_string(RewriteReason reason) {
  switch (reason) {
    case RewriteReason::time:
      return "time";
    case RewriteReason::random:
      return "random";
    case RewriteReason::uuid:
      return "uuid";
    case RewriteReason::sequence:
      return "sequence";
    case RewriteReason::column_default:
      return "column_default";
  }
  return "time";
}

RewriteMetrics::RewriteMetrics(prometheus::Registry& registry)
    : nondeterministic_by_table_(
          prometheus::BuildCounter()
              .Name("pgdual_nondeterministic_statements_total")
              .Help("Mirrored writes with non-deterministic values that pgdual "
                    "could not make identical on both stores, per table, by "
                    "action (allowed: sent as they are; rejected).")
              .Register(registry),
          "action"),
      untranslatable_by_table_(
          prometheus::BuildCounter()
              .Name("pgdual_mapping_untranslatable_total")
              .Help("Statements on tables of migration.mapping that the new store's views cannot "
                    "answer exactly, per old table, by action (allowed: sent, table marked for "
                    "reconciliation; rejected: SQLSTATE 0A000; skipped: shadow read not run).")
              .Register(registry),
          "action") {
  mapped_ = &prometheus::BuildCounter()
                 .Name("pgdual_mapping_statements_total")
                 .Help(
                     "Statements on tables of migration.mapping sent to the new store through "
                     "its views (docs/schema-mapping.md).")
                 .Register(registry)
                 .Add({});
  auto& rewritten = prometheus::BuildCounter()
                        .Name("pgdual_statements_rewritten_total")
                        .Help(
                            "Mirrored writes rewritten so that both stores receive the same "
                            "values, by reason (one count per reason present).")
                        .Register(registry);
  for (std::size_t i = 0; i < kRewriteReasonCount; ++i) {
    rewritten_[i] =
        &rewritten.Add({{"reason", std::string(to_string(static_cast<RewriteReason>(i)))}});
  }
}

}  // namespace pgdual::metrics
