// The analysis of a whole text: walks each statement (sites.cpp) and numbers the values its
// sites need across the text: one timestamp per transaction and per statement, one value per
// other site, so the caller knows how many of each to fetch.

#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <string>
#include <utility>

#include "routing/rewrite/sites.hpp"
#include "routing/rewrite/tree.hpp"

namespace pgdual::routing {

namespace {

bool ends_transaction(const PgQuery__Node& statement) {
  if (statement.node_case != PG_QUERY__NODE__NODE_TRANSACTION_STMT) return false;
  switch (statement.transaction_stmt->kind) {
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE:
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED:
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED:
      return true;
    default:
      return false;
  }
}

// Numbers the values: one timestamp per transaction (a new one after a statement that ends
// the transaction) and per statement, one value per other site, in site order.
class ValueNumbering {
 public:
  explicit ValueNumbering(RewriteAnalysis& analysis) : analysis_(analysis) {}

  void number(StatementSites& statement, std::size_t index) {
    std::size_t statement_slot = kNone;
    for (RewriteSite& site : statement.sites) {
      switch (site.kind) {
        case SiteKind::time:
          site.value_index = site.time_scope == TimeScope::transaction
                                 ? slot(transaction_slot_, TimeScope::transaction, index)
                                 : slot(statement_slot, TimeScope::statement, index);
          break;
        case SiteKind::random:
          site.value_index = analysis_.random_count++;
          break;
        case SiteKind::uuid:
          site.value_index = analysis_.uuid_count++;
          break;
        case SiteKind::sequence:
          site.value_index = analysis_.sequences.size();
          analysis_.sequences.push_back(site.sequence);
          break;
      }
    }
    if (statement.ends_transaction) {
      transaction_slot_ = kNone;
      after_transaction_end_ = true;
    }
  }

 private:
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  std::size_t slot(std::size_t& current, TimeScope scope, std::size_t statement) {
    if (current == kNone) {
      current = analysis_.time_slots.size();
      analysis_.time_slots.push_back(
          TimeSlot{scope, statement, scope == TimeScope::transaction && after_transaction_end_});
    }
    return current;
  }

  RewriteAnalysis& analysis_;
  std::size_t transaction_slot_ = kNone;
  bool after_transaction_end_ = false;
};

// The highest parameter number ($n) anywhere in the tree.
int highest_parameter(ProtobufCMessage* message) {
  int highest = 0;
  if (message->descriptor == &pg_query__param_ref__descriptor) {
    highest = reinterpret_cast<PgQuery__ParamRef*>(message)->number;
  }
  detail::for_each_child(message, [&](const ProtobufCFieldDescriptor&, ProtobufCMessage* child) {
    highest = std::max(highest, highest_parameter(child));
  });
  return highest;
}

RewriteAnalysis analyze_unguarded(const std::string& text, const ColumnDefaults& defaults,
                                  const std::vector<std::string>& volatile_functions,
                                  const FunctionCatalog* functions) {
  RewriteAnalysis analysis;
  analysis.text_size = text.size();
  detail::TreePtr tree = detail::parse_to_tree(text, analysis.error);
  if (tree == nullptr) return analysis;
  analysis.parsed = true;
  ValueNumbering numbering(analysis);
  for (std::size_t i = 0; i < tree->n_stmts; ++i) {
    const PgQuery__RawStmt* raw = tree->stmts[i];
    if (raw == nullptr || raw->stmt == nullptr) continue;
    detail::StatementWalk walk =
        detail::walk_statement(*raw->stmt, &defaults, &volatile_functions, functions);
    analysis.calls_unknown_function |= walk.calls_unknown_function;
    analysis.depends_on_literal_values |= walk.depends_on_literal_values;
    StatementSites statement;
    statement.sites = std::move(walk.sites);
    statement.unrewritable = std::move(walk.unrewritable);
    statement.ends_transaction = ends_transaction(*raw->stmt);
    statement.location = std::min<std::size_t>(std::max(raw->stmt_location, 0), text.size());
    // stmt_len 0 means "to the end of the text".
    statement.length = raw->stmt_len > 0
                           ? std::min<std::size_t>(raw->stmt_len, text.size() - statement.location)
                           : text.size() - statement.location;
    numbering.number(statement, analysis.statements.size());
    analysis.max_parameter = std::max(
        analysis.max_parameter, highest_parameter(reinterpret_cast<ProtobufCMessage*>(raw->stmt)));
    if (!statement.sites.empty() || !statement.unrewritable.empty()) analysis.needs_rewrite = true;
    analysis.statements.push_back(std::move(statement));
  }
  return analysis;
}

}  // namespace

bool RewriteAnalysis::rewritable() const {
  return parsed && std::all_of(statements.begin(), statements.end(),
                               [](const StatementSites& s) { return s.unrewritable.empty(); });
}

std::vector<std::string> RewriteAnalysis::unrewritable() const {
  std::vector<std::string> names;
  for (const StatementSites& statement : statements) {
    names.insert(names.end(), statement.unrewritable.begin(), statement.unrewritable.end());
  }
  return names;
}

RewriteAnalysis analyze_for_rewrite(std::string_view sql, const ColumnDefaults& defaults,
                                    const std::vector<std::string>& volatile_functions,
                                    const FunctionCatalog* functions) {
  RewriteAnalysis analysis;
  if (sql.find('\0') != std::string_view::npos) {  // the parser would stop there
    analysis.error = "statement text contains a NUL byte";
    return analysis;
  }
  const std::string text(sql);
  std::string error;
  const bool ran = detail::with_parse_stack(
      text, [&] { analysis = analyze_unguarded(text, defaults, volatile_functions, functions); },
      error);
  if (!ran) {
    analysis = RewriteAnalysis{};
    analysis.error = std::move(error);
  }
  return analysis;
}

}  // namespace pgdual::routing
