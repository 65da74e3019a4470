#include "routing/classify/statement_classifier.hpp"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "routing/classify/command_names.hpp"
#include "routing/classify/parse_guard.hpp"
#include "routing/classify/parse_tree_walker.hpp"

namespace pgdual::routing {
namespace {

StatementInfo analyze(const PgQuery__Node& statement, const ClassifierOptions& options);

int write_rank(StatementKind kind) {
  switch (kind) {
    case StatementKind::read:
      return 0;
    case StatementKind::other:
      return 1;
    case StatementKind::session:
      return 2;
    case StatementKind::transaction:
      return 3;
    case StatementKind::write:
      return 4;
    case StatementKind::ddl:
      return 5;
  }
  return 4;
}

// The message type name of the node's set member, e.g. "CreateExtensionStmt".
std::string_view node_type_name(const PgQuery__Node& node) {
  const ProtobufCFieldDescriptor* field =
      protobuf_c_message_descriptor_get_field(&pg_query__node__descriptor, node.node_case);
  if (field == nullptr || field->descriptor == nullptr) return {};
  return static_cast<const ProtobufCMessageDescriptor*>(field->descriptor)->short_name;
}

std::string select_command(const detail::TreeFacts& facts) {
  if (facts.is_select_into) return "SELECT INTO";
  switch (facts.strongest_lock) {
    case PG_QUERY__LOCK_CLAUSE_STRENGTH__LCS_FORUPDATE:
      return "SELECT FOR UPDATE";
    case PG_QUERY__LOCK_CLAUSE_STRENGTH__LCS_FORNOKEYUPDATE:
      return "SELECT FOR NO KEY UPDATE";
    case PG_QUERY__LOCK_CLAUSE_STRENGTH__LCS_FORSHARE:
      return "SELECT FOR SHARE";
    case PG_QUERY__LOCK_CLAUSE_STRENGTH__LCS_FORKEYSHARE:
      return "SELECT FOR KEY SHARE";
    default:
      return "SELECT";
  }
}

void set(StatementInfo& info, StatementKind kind, std::string command) {
  info.kind = kind;
  info.command = std::move(command);
}

void classify_transaction(const PgQuery__TransactionStmt& tx, StatementInfo& info) {
  info.kind = StatementKind::transaction;
  info.name = *tx.savepoint_name != '\0' ? tx.savepoint_name : tx.gid;
  switch (tx.kind) {
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
      info.transaction = TransactionAction::begin;
      info.command = "BEGIN";
      break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START:
      info.transaction = TransactionAction::begin;
      info.command = "START TRANSACTION";
      break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:  // also END
      info.transaction = TransactionAction::commit;
      info.command = "COMMIT";
      break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:  // also ABORT
      info.transaction = TransactionAction::rollback;
      info.command = "ROLLBACK";
      break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT:
      info.transaction = TransactionAction::savepoint;
      info.command = "SAVEPOINT";
      break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE:
      info.transaction = TransactionAction::release;
      info.command = "RELEASE";
      break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO:
      info.transaction = TransactionAction::rollback_to;
      info.command = "ROLLBACK";  // PostgreSQL's tag for ROLLBACK TO SAVEPOINT
      break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE:
      info.transaction = TransactionAction::prepare_transaction;
      info.command = "PREPARE TRANSACTION";
      break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED:
      info.transaction = TransactionAction::commit_prepared;
      info.command = "COMMIT PREPARED";
      break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED:
      info.transaction = TransactionAction::rollback_prepared;
      info.command = "ROLLBACK PREPARED";
      break;
    default:
      info.command = "TRANSACTION";
      break;
  }
}

std::string discard_command(PgQuery__DiscardMode mode) {
  switch (mode) {
    case PG_QUERY__DISCARD_MODE__DISCARD_PLANS:
      return "DISCARD PLANS";
    case PG_QUERY__DISCARD_MODE__DISCARD_SEQUENCES:
      return "DISCARD SEQUENCES";
    case PG_QUERY__DISCARD_MODE__DISCARD_TEMP:
      return "DISCARD TEMP";
    default:
      return "DISCARD ALL";
  }
}

// Utility statements that change the schema; anything not listed falls back to the node type's
// name (Create*/Alter*/Drop*/... are DDL, the rest `other`).
void classify_schema_change(const PgQuery__Node& node, StatementInfo& info) {
  using detail::object_type_words;
  switch (node.node_case) {
    case PG_QUERY__NODE__NODE_CREATE_STMT:
      return set(info, StatementKind::ddl, "CREATE TABLE");
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
      return set(info, StatementKind::ddl,
                 node.create_table_as_stmt->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW
                     ? "CREATE MATERIALIZED VIEW"
                     : "CREATE TABLE AS");
    case PG_QUERY__NODE__NODE_INDEX_STMT:
      return set(info, StatementKind::ddl, "CREATE INDEX");
    case PG_QUERY__NODE__NODE_VIEW_STMT:
      return set(info, StatementKind::ddl, "CREATE VIEW");
    case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
      return set(info, StatementKind::ddl, "CREATE SEQUENCE");
    case PG_QUERY__NODE__NODE_ALTER_SEQ_STMT:
      return set(info, StatementKind::ddl, "ALTER SEQUENCE");
    case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT:
      return set(info, StatementKind::ddl, "CREATE TRIGGER");
    case PG_QUERY__NODE__NODE_RULE_STMT:
      return set(info, StatementKind::ddl, "CREATE RULE");
    case PG_QUERY__NODE__NODE_CREATEDB_STMT:
      return set(info, StatementKind::ddl, "CREATE DATABASE");
    case PG_QUERY__NODE__NODE_DROPDB_STMT:
      return set(info, StatementKind::ddl, "DROP DATABASE");
    case PG_QUERY__NODE__NODE_COMPOSITE_TYPE_STMT:
    case PG_QUERY__NODE__NODE_CREATE_ENUM_STMT:
    case PG_QUERY__NODE__NODE_CREATE_RANGE_STMT:
      return set(info, StatementKind::ddl, "CREATE TYPE");
    case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
      return set(info, StatementKind::ddl,
                 node.create_function_stmt->is_procedure ? "CREATE PROCEDURE" : "CREATE FUNCTION");
    case PG_QUERY__NODE__NODE_DEFINE_STMT:
      return set(info, StatementKind::ddl, "CREATE " + object_type_words(node.define_stmt->kind));
    case PG_QUERY__NODE__NODE_DROP_STMT:
      return set(info, StatementKind::ddl,
                 "DROP " + object_type_words(node.drop_stmt->remove_type));
    case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
      return set(info, StatementKind::ddl,
                 "ALTER " + object_type_words(node.alter_table_stmt->objtype));
    case PG_QUERY__NODE__NODE_RENAME_STMT: {
      const PgQuery__RenameStmt& rename = *node.rename_stmt;
      const bool on_relation = rename.rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN ||
                               rename.rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABCONSTRAINT;
      return set(
          info, StatementKind::ddl,
          "ALTER " + object_type_words(on_relation ? rename.relation_type : rename.rename_type));
    }
    case PG_QUERY__NODE__NODE_ALTER_OBJECT_SCHEMA_STMT:
      return set(info, StatementKind::ddl,
                 "ALTER " + object_type_words(node.alter_object_schema_stmt->object_type));
    case PG_QUERY__NODE__NODE_ALTER_OWNER_STMT:
      return set(info, StatementKind::ddl,
                 "ALTER " + object_type_words(node.alter_owner_stmt->object_type));
    case PG_QUERY__NODE__NODE_GRANT_STMT:
      return set(info, StatementKind::ddl, node.grant_stmt->is_grant ? "GRANT" : "REVOKE");
    case PG_QUERY__NODE__NODE_GRANT_ROLE_STMT:
      return set(info, StatementKind::ddl,
                 node.grant_role_stmt->is_grant ? "GRANT ROLE" : "REVOKE ROLE");
    case PG_QUERY__NODE__NODE_COMMENT_STMT:
      return set(info, StatementKind::ddl, "COMMENT");
    case PG_QUERY__NODE__NODE_SEC_LABEL_STMT:
      return set(info, StatementKind::ddl, "SECURITY LABEL");
    case PG_QUERY__NODE__NODE_CLUSTER_STMT:
      return set(info, StatementKind::ddl, "CLUSTER");
    case PG_QUERY__NODE__NODE_REINDEX_STMT:
      return set(info, StatementKind::ddl, "REINDEX");
    default:
      break;
  }
  const std::string_view type_name = node_type_name(node);
  set(info, detail::is_schema_change_type(type_name) ? StatementKind::ddl : StatementKind::other,
      detail::command_from_type_name(type_name));
}

// Session statements (SET, DISCARD, LISTEN, ...) and the other utility statements; the rest
// are schema changes.
void classify_utility_node(const PgQuery__Node& node, StatementInfo& info) {
  switch (node.node_case) {
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT: {
      const PgQuery__VariableSetStmt& stmt = *node.variable_set_stmt;
      info.name = stmt.name;
      info.is_local = stmt.is_local;
      const bool reset = stmt.kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET ||
                         stmt.kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL;
      return set(info, StatementKind::session, reset ? "RESET" : "SET");
    }
    case PG_QUERY__NODE__NODE_DISCARD_STMT:
      return set(info, StatementKind::session, discard_command(node.discard_stmt->target));
    case PG_QUERY__NODE__NODE_DEALLOCATE_STMT:
      info.name = node.deallocate_stmt->name;
      return set(info, StatementKind::session, info.name.empty() ? "DEALLOCATE ALL" : "DEALLOCATE");
    case PG_QUERY__NODE__NODE_LISTEN_STMT:
      info.is_listen = true;
      info.name = node.listen_stmt->conditionname;
      return set(info, StatementKind::session, "LISTEN");
    case PG_QUERY__NODE__NODE_UNLISTEN_STMT:
      info.is_listen = true;
      info.name = node.unlisten_stmt->conditionname;
      return set(info, StatementKind::session, "UNLISTEN");
    case PG_QUERY__NODE__NODE_NOTIFY_STMT:
      info.is_listen = true;
      info.name = node.notify_stmt->conditionname;
      return set(info, StatementKind::session, "NOTIFY");
    case PG_QUERY__NODE__NODE_LOAD_STMT:
      return set(info, StatementKind::session, "LOAD");
    case PG_QUERY__NODE__NODE_CONSTRAINTS_SET_STMT:
      return set(info, StatementKind::session, "SET CONSTRAINTS");
    case PG_QUERY__NODE__NODE_EXECUTE_STMT:  // the caller knows what the prepared statement does
      info.name = node.execute_stmt->name;
      return set(info, StatementKind::other, "EXECUTE");
    case PG_QUERY__NODE__NODE_FETCH_STMT:
      info.name = node.fetch_stmt->portalname;
      return set(info, StatementKind::other, node.fetch_stmt->ismove ? "MOVE" : "FETCH");
    case PG_QUERY__NODE__NODE_CLOSE_PORTAL_STMT:
      info.name = node.close_portal_stmt->portalname;
      return set(info, StatementKind::other,
                 info.name.empty() ? "CLOSE CURSOR ALL" : "CLOSE CURSOR");
    case PG_QUERY__NODE__NODE_VACUUM_STMT:
      return set(info, StatementKind::other, node.vacuum_stmt->is_vacuumcmd ? "VACUUM" : "ANALYZE");
    case PG_QUERY__NODE__NODE_CHECK_POINT_STMT:
      return set(info, StatementKind::other, "CHECKPOINT");
    default:
      return classify_schema_change(node, info);
  }
}

// Sets kind, command, transaction and name from the statement's own node; the facts gathered
// from the whole tree may later turn a read into a write.
void classify_node(const PgQuery__Node& node, const detail::TreeFacts& facts, StatementInfo& info) {
  switch (node.node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT:
      // The outermost ORDER BY (of a UNION too) decides whether row order is part of the result.
      info.has_order_by = node.select_stmt->n_sort_clause > 0;
      return set(info, StatementKind::read, select_command(facts));  // also VALUES and TABLE
    case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT:
      info.name = node.variable_show_stmt->name;
      return set(info, StatementKind::read, "SHOW");
    case PG_QUERY__NODE__NODE_INSERT_STMT:
      return set(info, StatementKind::write, "INSERT");
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
      return set(info, StatementKind::write, "UPDATE");
    case PG_QUERY__NODE__NODE_DELETE_STMT:
      return set(info, StatementKind::write, "DELETE");
    case PG_QUERY__NODE__NODE_MERGE_STMT:
      return set(info, StatementKind::write, "MERGE");
    case PG_QUERY__NODE__NODE_COPY_STMT:
      return set(info, node.copy_stmt->is_from ? StatementKind::write : StatementKind::read,
                 "COPY");
    case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
      return set(info, StatementKind::write, "TRUNCATE TABLE");
    case PG_QUERY__NODE__NODE_CALL_STMT:
      return set(info, StatementKind::write, "CALL");
    case PG_QUERY__NODE__NODE_DO_STMT:
      return set(info, StatementKind::write, "DO");
    // LOCK writes nothing but must take its locks where the writes go.
    case PG_QUERY__NODE__NODE_LOCK_STMT:
      return set(info, StatementKind::write, "LOCK TABLE");
    case PG_QUERY__NODE__NODE_REFRESH_MAT_VIEW_STMT:
      return set(info, StatementKind::write, "REFRESH MATERIALIZED VIEW");
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
      return classify_transaction(*node.transaction_stmt, info);
    default:
      return classify_utility_node(node, info);
  }
}

void take_facts(StatementInfo& info, detail::TreeFacts&& facts, const ClassifierOptions& options) {
  info.tables = std::move(facts.tables);
  info.write_tables = std::move(facts.write_tables);
  info.functions = std::move(facts.functions);
  info.has_locking_clause = facts.has_locking_clause;
  info.has_modifying_cte = facts.has_modifying_cte;
  info.is_select_into = facts.is_select_into;
  info.may_choose_rows_per_store = facts.may_choose_rows_per_store;
  info.may_evaluate_per_store = facts.may_evaluate_per_store;
  for (const std::string& function : info.functions) {
    if (is_nondeterministic_function(function)) info.calls_nondeterministic = true;
    if (function_makes_write(function, options)) info.calls_write_function = true;
    if (reads_host_files(function) || may_pick_large_object_oid(function)) {
      info.may_evaluate_per_store = true;
    }
  }
}

// EXPLAIN runs its statement only with ANALYZE: EXPLAIN ANALYZE, EXPLAIN (ANALYZE),
// EXPLAIN (ANALYZE true|on|1); not EXPLAIN (ANALYZE false|off|0).
bool explain_analyzes(const PgQuery__ExplainStmt& explain) {
  for (std::size_t i = 0; i < explain.n_options; ++i) {
    const PgQuery__Node* option = explain.options[i];
    if (option == nullptr || option->node_case != PG_QUERY__NODE__NODE_DEF_ELEM) continue;
    const PgQuery__DefElem& def = *option->def_elem;
    if (std::string_view(def.defname) != "analyze") continue;
    const PgQuery__Node* arg = def.arg;
    if (arg == nullptr) return true;
    switch (arg->node_case) {
      case PG_QUERY__NODE__NODE_BOOLEAN:
        return arg->boolean->boolval;
      case PG_QUERY__NODE__NODE_INTEGER:
        return arg->integer->ival != 0;
      case PG_QUERY__NODE__NODE_STRING: {
        const std::string_view value = arg->string->sval;
        return value != "false" && value != "off" && value != "0" && value != "no";
      }
      default:
        return true;
    }
  }
  return false;
}

StatementInfo analyze_explain(const PgQuery__ExplainStmt& explain,
                              const ClassifierOptions& options) {
  StatementInfo info;
  if (explain.query != nullptr) info = analyze(*explain.query, options);
  info.command = "EXPLAIN";
  info.name.clear();
  info.transaction = TransactionAction::none;
  info.prepared_inner_kind.reset();
  if (!explain_analyzes(explain)) {
    info.kind = StatementKind::read;  // only plans: nothing runs, nothing is written
    info.write_tables.clear();
  }
  return info;
}

// PREPARE and DECLARE CURSOR: session state whose facts are those of the wrapped statement.
StatementInfo analyze_wrapper(const PgQuery__Node* inner, std::string command, const char* name,
                              const ClassifierOptions& options) {
  StatementInfo info;
  if (inner != nullptr) info = analyze(*inner, options);
  info.prepared_inner_kind = info.kind;
  info.kind = StatementKind::session;
  info.command = std::move(command);
  info.name = name;
  info.transaction = TransactionAction::none;
  return info;
}

StatementInfo analyze(const PgQuery__Node& statement, const ClassifierOptions& options) {
  switch (statement.node_case) {
    case PG_QUERY__NODE__NODE_EXPLAIN_STMT:
      return analyze_explain(*statement.explain_stmt, options);
    case PG_QUERY__NODE__NODE_PREPARE_STMT:
      return analyze_wrapper(statement.prepare_stmt->query, "PREPARE", statement.prepare_stmt->name,
                             options);
    case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
      return analyze_wrapper(statement.declare_cursor_stmt->query, "DECLARE CURSOR",
                             statement.declare_cursor_stmt->portalname, options);
    default:
      break;
  }
  StatementInfo info;
  detail::TreeFacts facts = detail::collect_tree_facts(statement);
  classify_node(statement, facts, info);
  const bool modifies_data = facts.has_data_modification;
  take_facts(info, std::move(facts), options);
  // A read that writes: SELECT INTO, FOR UPDATE, WITH x AS (DELETE ...), a write function,
  // COPY (DELETE ... RETURNING) TO.
  if (info.kind == StatementKind::read &&
      (info.is_select_into || info.has_locking_clause || info.has_modifying_cte ||
       info.calls_write_function || modifies_data)) {
    info.kind = StatementKind::write;
  }
  return info;
}

struct ParseResultDeleter {
  void operator()(PgQuery__ParseResult* result) const {
    pg_query__parse_result__free_unpacked(result, nullptr);
  }
};

}  // namespace

StatementKind Classification::overall() const {
  if (!parsed) return StatementKind::write;
  if (statements.empty()) return StatementKind::other;
  StatementKind result = StatementKind::read;
  for (const StatementInfo& statement : statements) {
    if (write_rank(statement.kind) > write_rank(result)) result = statement.kind;
  }
  return result;
}

bool Classification::has_transaction_control() const {
  return std::any_of(statements.begin(), statements.end(), [](const StatementInfo& statement) {
    return statement.kind == StatementKind::transaction;
  });
}

namespace detail {

// Parses and classifies on the current stack: the caller made sure it is deep enough.
Classification classify_unguarded(const std::string& text, const ClassifierOptions& options) {
  Classification result;
  PgQueryProtobufParseResult parsed = pg_query_parse_protobuf(text.c_str());
  if (parsed.error != nullptr) {
    result.error = parsed.error->message != nullptr ? parsed.error->message : "syntax error";
    pg_query_free_protobuf_parse_result(parsed);
    return result;
  }
  std::unique_ptr<PgQuery__ParseResult, ParseResultDeleter> tree(pg_query__parse_result__unpack(
      nullptr, parsed.parse_tree.len, reinterpret_cast<const uint8_t*>(parsed.parse_tree.data)));
  pg_query_free_protobuf_parse_result(parsed);
  if (tree == nullptr) {
    result.error = "could not decode the parse tree";
    return result;
  }
  result.parsed = true;
  result.statements.reserve(tree->n_stmts);
  for (std::size_t i = 0; i < tree->n_stmts; ++i) {
    const PgQuery__RawStmt* raw = tree->stmts[i];
    if (raw == nullptr || raw->stmt == nullptr) continue;
    StatementInfo info = analyze(*raw->stmt, options);
    const auto location = std::min<std::size_t>(std::max(raw->stmt_location, 0), text.size());
    info.location = location;
    // stmt_len 0 means "to the end of the text".
    info.length = raw->stmt_len > 0 ? std::min<std::size_t>(raw->stmt_len, text.size() - location)
                                    : text.size() - location;
    result.statements.push_back(std::move(info));
  }
  return result;
}

}  // namespace detail

Classification classify(std::string_view sql, const ClassifierOptions& options) {
  // The parser takes a C string; an embedded NUL would silently cut the text short.
  if (sql.find('\0') != std::string_view::npos) {
    Classification result;
    result.error = "statement text contains a NUL byte";
    return result;
  }
  const std::string text(sql);
  Classification result;
  const auto outcome =
      detail::run_on_parse_stack(text, [&] { result = detail::classify_unguarded(text, options); });
  if (outcome == detail::ParseStack::ran) return result;
  result = Classification{};
  result.unsupported = true;
  result.error = outcome == detail::ParseStack::too_deep
                     ? "statement nested too deeply to classify safely"
                     : "could not start a parser thread for a deeply nested statement";
  return result;
}

std::string_view to_string(StatementKind kind) {
  switch (kind) {
    case StatementKind::read:
      return "read";
    case StatementKind::write:
      return "write";
    case StatementKind::ddl:
      return "ddl";
    case StatementKind::transaction:
      return "transaction";
    case StatementKind::session:
      return "session";
    case StatementKind::other:
      return "other";
  }
  return "other";
}

std::string_view to_string(TransactionAction action) {
  switch (action) {
    case TransactionAction::none:
      return "none";
    case TransactionAction::begin:
      return "begin";
    case TransactionAction::commit:
      return "commit";
    case TransactionAction::rollback:
      return "rollback";
    case TransactionAction::savepoint:
      return "savepoint";
    case TransactionAction::release:
      return "release";
    case TransactionAction::rollback_to:
      return "rollback_to";
    case TransactionAction::prepare_transaction:
      return "prepare_transaction";
    case TransactionAction::commit_prepared:
      return "commit_prepared";
    case TransactionAction::rollback_prepared:
      return "rollback_prepared";
  }
  return "none";
}

}  // namespace pgdual::routing
