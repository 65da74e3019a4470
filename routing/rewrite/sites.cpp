// The site walk. Like parse_tree_walker.cpp it follows every message-typed field through
// protobuf-c's reflection, iteratively (trees can be thousands of levels deep), and looks only
// at the few node types that matter by their typed structs. Along the way it carries whether
// the current expression is evaluated once per statement or once per row of a scan, which
// decides whether a per-call function (random(), nextval(), ...) can become one literal.

#include "routing/rewrite/sites.hpp"

#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

#include "routing/classify/statement_classifier.hpp"
#include "routing/rewrite/per_store.hpp"
#include "routing/rewrite/tree.hpp"
#include "text/ascii.hpp"

namespace pgdual::routing {
namespace detail {

namespace {

struct Context {
  bool per_row = false;   // evaluated once per row of a scan, not once per statement
  bool deferred = false;  // PREPARE's body: evaluated at every EXECUTE, not now
};

bool named(const ProtobufCFieldDescriptor& field, std::string_view name) {
  return name == field.name;
}

RewriteSite time_site(std::string_view function, TimeType type,
                      TimeScope scope = TimeScope::transaction, int precision = -1) {
  RewriteSite site;
  site.function = function;
  site.time_type = type;
  site.time_scope = scope;
  site.precision = precision;
  return site;
}

RewriteSite value_site(SiteKind kind, std::string_view function) {
  RewriteSite site;
  site.kind = kind;
  site.function = function;
  return site;
}

std::optional<RewriteSite> sql_value_site(const PgQuery__SQLValueFunction& svf) {
  const int precision = svf.typmod >= 0 ? svf.typmod : -1;  // CURRENT_TIME(p) and the like
  const auto transaction = TimeScope::transaction;
  switch (svf.op) {
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_DATE:
      return time_site("current_date", TimeType::date);
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME_N:
      return time_site("current_time", TimeType::timetz, transaction, precision);
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP_N:
      return time_site("current_timestamp", TimeType::timestamptz, transaction, precision);
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME_N:
      return time_site("localtime", TimeType::time, transaction, precision);
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP_N:
      return time_site("localtimestamp", TimeType::timestamp, transaction, precision);
    default:
      return std::nullopt;  // CURRENT_USER and the like: the same on both servers
  }
}

// The name of a built-in the rewrite may replace: bare or pg_catalog-qualified, and
// uuid_generate_v4 in any schema (uuid-ossp is installed wherever asked). Else empty.
std::string_view builtin_name(const PgQuery__FuncCall& call) {
  if (call.n_funcname == 0 || call.n_funcname > 2 ||
      dotted_name(call.funcname, call.n_funcname).empty()) {
    return {};
  }
  const std::string_view name = call.funcname[call.n_funcname - 1]->string->sval;
  if (call.n_funcname == 2 && std::string_view(call.funcname[0]->string->sval) != "pg_catalog" &&
      name != "uuid_generate_v4") {
    return {};
  }
  return name;
}

std::optional<RewriteSite> call_site(std::string_view name, const PgQuery__FuncCall& call) {
  if (name.empty() || call.agg_star || call.agg_distinct || call.over != nullptr ||
      call.func_variadic || call.agg_filter != nullptr || call.n_agg_order > 0) {
    return std::nullopt;
  }
  if (name == "nextval" && call.n_args == 1) {
    RewriteSite site = value_site(SiteKind::sequence, name);
    site.sequence = regclass_literal(call.args[0]);
    if (site.sequence.empty()) return std::nullopt;
    return site;
  }
  if (call.n_args != 0) return std::nullopt;
  if (name == "now" || name == "transaction_timestamp") {
    return time_site(name, TimeType::timestamptz);
  }
  if (name == "statement_timestamp" || name == "clock_timestamp") {
    return time_site(name, TimeType::timestamptz, TimeScope::statement);
  }
  if (name == "random") return value_site(SiteKind::random, name);
  if (name == "gen_random_uuid" || name == "uuid_generate_v4") {
    return value_site(SiteKind::uuid, name);
  }
  return std::nullopt;
}

// Whether a caller-given entry names the called function: "f" matches f in any schema, "s.f"
// matches s.f and an unqualified f (the search_path is unknown here).
bool names_function(const std::vector<std::string>& entries, std::string_view call) {
  const std::string called = text::ascii_lower(call);
  const bool call_qualified = called.find('.') != std::string::npos;
  return std::any_of(entries.begin(), entries.end(), [&](const std::string& entry) {
    const std::string name = text::ascii_lower(entry);
    if (name == called) return true;
    if (name.find('.') == std::string::npos) return name == bare_name(called);
    return !call_qualified && bare_name(name) == called;
  });
}

RewriteSite default_site(const RewriteSite& base, const ColumnDefault& column, std::size_t row,
                         int row_position) {
  RewriteSite site = base;
  site.column = column.column;
  site.row = row;
  site.row_position = row_position;
  site.identity_always = column.identity == Identity::always;
  switch (column.kind) {
    case DefaultKind::sequence:
      site.kind = SiteKind::sequence;
      site.sequence = column.sequence;
      break;
    case DefaultKind::time:
      site.kind = SiteKind::time;  // a transaction timestamp, cast on assignment
      break;
    case DefaultKind::uuid:
      site.kind = SiteKind::uuid;
      break;
    case DefaultKind::opaque:  // refused by insert_default_sites before it gets here
      break;
  }
  return site;
}

// The column-default sites of one INSERT into a table with volatile defaults, row by row in
// the order of `columns`; or why its defaults cannot be made literal.
std::string insert_default_sites(const PgQuery__InsertStmt& insert,
                                 std::vector<ColumnDefault> columns, const RewriteSite& base,
                                 std::vector<RewriteSite>& sites) {
  const std::string& table = base.table;
  const bool default_values = insert.select_stmt == nullptr;
  const PgQuery__SelectStmt* values = values_of(insert);
  const bool is_query = !default_values && values == nullptr;
  const bool has_list = insert.n_cols > 0;
  const PgQuery__List* first_row = values != nullptr ? values_row(*values, 0) : nullptr;
  // How many values a row gives: without a column list they fill the first columns in order.
  const int width = has_list               ? static_cast<int>(insert.n_cols)
                    : default_values       ? 0
                    : is_query             ? select_width(insert.select_stmt)
                    : first_row != nullptr ? static_cast<int>(first_row->n_items)
                                           : -1;
  if (!has_list && !default_values) {
    // Values appended to rows without a column list must go in column order.
    std::stable_sort(
        columns.begin(), columns.end(),
        [](const ColumnDefault& a, const ColumnDefault& b) { return a.position < b.position; });
  }
  const std::string no_list = (is_query ? "INSERT ... SELECT" : "INSERT");
  std::vector<int> at;  // per column: its item in every row, or -1 when rows lack it
  int next_appended = width + 1;
  for (const ColumnDefault& column : columns) {
    int index = -1;
    if (has_list) {
      index = target_index(insert.cols, insert.n_cols, column.column);
    } else if (!default_values) {
      if (column.position <= 0 || width < 0)
        return no_list + " without a column list into " + table;
      if (column.position <= width) {
        index = column.position - 1;
      } else if (column.position != next_appended++) {
        return no_list + " without a column list into " + table;  // a gap before it
      }
    }
    if (index >= 0 && column.identity != Identity::none &&
        insert.override == PG_QUERY__OVERRIDING_KIND__OVERRIDING_USER_VALUE) {
      return "OVERRIDING USER VALUE into " + table;
    }
    if (index < 0 && is_query) {
      return "INSERT ... SELECT into " + table + " (volatile default of " + column.column + ")";
    }
    at.push_back(index);
  }
  if (is_query) return {};  // the query gives every volatile column a value
  std::vector<RewriteSite> found;
  std::string refused_value;  // an explicit value PostgreSQL refuses for an ALWAYS column
  const std::size_t rows = default_values ? 1 : values->n_values_lists;
  for (std::size_t row = 0; row < rows; ++row) {
    const PgQuery__List* items = default_values ? nullptr : values_row(*values, row);
    for (std::size_t c = 0; c < columns.size(); ++c) {
      const bool given =
          at[c] >= 0 && (items == nullptr || static_cast<std::size_t>(at[c]) >= items->n_items ||
                         !is_default(items->items[at[c]]));
      if (!given && columns[c].kind == DefaultKind::opaque) {
        return "the default of " + table + "." + columns[c].column + " (" +
               columns[c].expression.substr(0, 100) + ")";
      }
      if (!given) {
        found.push_back(default_site(base, columns[c], row, at[c]));
      } else if (columns[c].identity == Identity::always &&
                 insert.override != PG_QUERY__OVERRIDING_KIND__OVERRIDING_SYSTEM_VALUE) {
        refused_value = columns[c].column;
      }
    }
  }
  // The OVERRIDING SYSTEM VALUE that an ALWAYS default made explicit needs would make
  // PostgreSQL accept the values it refuses now.
  if (!refused_value.empty() && std::any_of(found.begin(), found.end(), [](const RewriteSite& s) {
        return s.identity_always;
      })) {
    return "value for GENERATED ALWAYS column " + table + "." + refused_value;
  }
  sites.insert(sites.end(), found.begin(), found.end());
  return {};
}

class SiteWalker {
 public:
  SiteWalker(const ColumnDefaults* defaults, const KnownFunctions& functions, bool writes,
             StatementWalk& out)
      : defaults_(defaults), functions_(functions), writes_(writes), out_(out) {}

  void run(ProtobufCMessage* root, Context context) {
    tasks_.push_back(Task{root, context});
    while (!tasks_.empty()) {
      const Task task = tasks_.back();
      tasks_.pop_back();
      visit(task.message, task.context);
    }
  }

 private:
  struct Task {
    ProtobufCMessage* message;
    Context context;
  };

  void visit(ProtobufCMessage* message, Context context) {
    const ProtobufCMessageDescriptor* descriptor = message->descriptor;
    if (descriptor == &pg_query__node__descriptor &&
        visit_node(*reinterpret_cast<PgQuery__Node*>(message), context)) {
      return;
    }
    if (writes_ && descriptor == &pg_query__select_stmt__descriptor) {
      note_row_choice(*reinterpret_cast<PgQuery__SelectStmt*>(message));
    }
    if (descriptor == &pg_query__insert_stmt__descriptor) {
      note_insert(*reinterpret_cast<PgQuery__InsertStmt*>(message), context);
    } else if (descriptor == &pg_query__update_stmt__descriptor) {
      const auto& update = *reinterpret_cast<PgQuery__UpdateStmt*>(message);
      note_set_default(update.relation, update.target_list, update.n_target_list, "UPDATE ");
    } else if (descriptor == &pg_query__merge_stmt__descriptor) {
      note_merge(*reinterpret_cast<PgQuery__MergeStmt*>(message));
    } else if (descriptor == &pg_query__call_stmt__descriptor) {
      // CALL holds its procedure's FuncCall directly, not in a Node that visit_node sees.
      const auto& procedure = *reinterpret_cast<PgQuery__CallStmt*>(message);
      if (procedure.funccall != nullptr) {
        note_call(*procedure.funccall, builtin_name(*procedure.funccall));
      }
    }
    // Tasks run last-in first-out: push the children, then reverse them into field order.
    const std::size_t first = tasks_.size();
    for_each_child(message, [&](const ProtobufCFieldDescriptor& field, ProtobufCMessage* child) {
      tasks_.push_back(Task{child, child_context(*message, field, context)});
    });
    std::reverse(tasks_.begin() + static_cast<std::ptrdiff_t>(first), tasks_.end());
  }

  // A SELECT with FROM, UPDATE, DELETE and MERGE evaluate their expressions per row, and so do
  // ON CONFLICT and RETURNING; a WITH query runs once whatever its statement. VALUES rows and
  // a SELECT without FROM run once (an uncorrelated sub-select under a per-row expression runs
  // once too, but is treated as per row: conservative).
  static Context child_context(const ProtobufCMessage& parent,
                               const ProtobufCFieldDescriptor& field, Context context) {
    const ProtobufCMessageDescriptor* d = parent.descriptor;
    if (named(field, "with_clause")) return context;
    if (d == &pg_query__select_stmt__descriptor) {
      if (reinterpret_cast<const PgQuery__SelectStmt&>(parent).n_from_clause > 0) {
        context.per_row = true;
      }
    } else if (d == &pg_query__update_stmt__descriptor || d == &pg_query__delete_stmt__descriptor ||
               d == &pg_query__merge_stmt__descriptor) {
      context.per_row = true;
    } else if (d == &pg_query__insert_stmt__descriptor) {
      if (named(field, "on_conflict_clause") || named(field, "returning_list")) {
        context.per_row = true;
      }
    }
    return context;
  }

  // A write whose rows are chosen by something that differs per store picks other rows on
  // the new store: SKIP LOCKED (other sessions' locks), LIMIT without ORDER BY (scan order).
  // A LIMIT under an ORDER BY that is not total is not detected (the keys are not known).
  void note_row_choice(const PgQuery__SelectStmt& select) {
    for (std::size_t i = 0; i < select.n_locking_clause; ++i) {
      const PgQuery__Node* node = select.locking_clause[i];
      if (node != nullptr && node->node_case == PG_QUERY__NODE__NODE_LOCKING_CLAUSE &&
          node->locking_clause->wait_policy == PG_QUERY__LOCK_WAIT_POLICY__LockWaitSkip) {
        unrewritable("SKIP LOCKED in a write (rows locked by other sessions differ per store)");
      }
    }
    if (select.limit_count != nullptr && select.n_sort_clause == 0) {
      unrewritable("LIMIT without ORDER BY in a write (scan order differs per store)");
    }
  }

  // ctid and WHERE CURRENT OF name physical rows and cursor positions of one store.
  void note_physical_row(const PgQuery__Node& node) {
    if (node.node_case == PG_QUERY__NODE__NODE_CURRENT_OF_EXPR) {
      unrewritable("WHERE CURRENT OF in a write (cursor positions differ per store)");
    } else if (node.node_case == PG_QUERY__NODE__NODE_COLUMN_REF) {
      const auto& ref = *node.column_ref;
      const PgQuery__Node* last = ref.n_fields > 0 ? ref.fields[ref.n_fields - 1] : nullptr;
      if (last != nullptr && last->node_case == PG_QUERY__NODE__NODE_STRING &&
          std::string_view(last->string->sval) == "ctid") {
        unrewritable("ctid in a write (physical row positions differ per store)");
      }
    }
  }

  // True when the node is a call this walk settled (a site, or unrewritable as a whole), or a
  // constant (cast) it looked at.
  bool visit_node(PgQuery__Node& node, Context context) {
    if (writes_) {
      note_physical_row(node);
      bool settled = false;
      if (std::string literal = input_time_literal(node, settled); !literal.empty()) {
        unrewritable("input-time literal " + literal + " in a write (each store reads its clock)");
      }
      if (settled) return true;
    }
    if (node.node_case == PG_QUERY__NODE__NODE_SQLVALUE_FUNCTION) {
      std::optional<RewriteSite> site = sql_value_site(*node.sqlvalue_function);
      if (!site) return false;  // CURRENT_USER and the like
      const std::string shown = site->function;
      add_call(node, std::move(*site), context, shown);
      return true;
    }
    if (node.node_case != PG_QUERY__NODE__NODE_FUNC_CALL) return false;
    const PgQuery__FuncCall& call = *node.func_call;
    const std::string_view name = builtin_name(call);
    if (std::optional<RewriteSite> site = call_site(name, call)) {
      add_call(node, std::move(*site), context, std::string(name) + "()");
      return true;
    }
    note_call(call, name);
    return false;  // its arguments may hold sites
  }

  // A call that is no site: why it is unrewritable, if it is.
  void note_call(const PgQuery__FuncCall& call, std::string_view name) {
    const std::string full = dotted_name(call.funcname, call.n_funcname);
    if (name == "nextval") {
      unrewritable("nextval() with a computed sequence name");
    } else if (functions_.volatile_functions != nullptr &&
               names_function(*functions_.volatile_functions, full)) {
      unrewritable("volatile function " + full + "()");
    } else if (name != "setval" && is_nondeterministic_function(full)) {
      unrewritable(full + "()");  // currval(), txid_current(), timeofday(), ...
    } else {
      note_per_store_call(call, full, functions_, out_);  // gen_random_bytes(), lo_create(0), ...
    }
  }

  void add_call(PgQuery__Node& node, RewriteSite site, Context context, const std::string& shown) {
    const bool per_call = site.kind != SiteKind::time || site.function == "clock_timestamp";
    if (context.deferred) return unrewritable(shown + " in PREPARE");
    if (context.per_row && per_call) return unrewritable(shown + " evaluated per row");
    out_.sites.push_back(std::move(site));
    out_.call_nodes.push_back(&node);
  }

  void unrewritable(std::string name) { note_unrewritable(out_, std::move(name)); }

  const std::vector<ColumnDefault>* lookup(const PgQuery__RangeVar* rv) const {
    return table_defaults(defaults_, rv);
  }

  void note_insert(PgQuery__InsertStmt& insert, Context context) {
    const std::size_t ordinal = out_.inserts.size();
    out_.inserts.push_back(&insert);
    const std::vector<ColumnDefault>* columns = lookup(insert.relation);
    if (columns == nullptr) return;
    RewriteSite base;
    base.table = relation_name(*insert.relation);
    base.insert = ordinal;
    std::vector<RewriteSite> sites;
    std::string reason = insert_default_sites(insert, *columns, base, sites);
    if (reason.empty() && context.deferred && !sites.empty()) {
      reason = "INSERT into " + base.table + " with volatile defaults in PREPARE";
    }
    if (!reason.empty()) return unrewritable(std::move(reason));
    for (RewriteSite& site : sites) {
      out_.sites.push_back(std::move(site));
      out_.call_nodes.push_back(nullptr);
    }
    if (const PgQuery__OnConflictClause* conflict = insert.on_conflict_clause) {
      note_set_default(insert.relation, conflict->target_list, conflict->n_target_list,
                       "INSERT ... ON CONFLICT UPDATE ");
    }
  }

  // SET column = DEFAULT for a volatile column is evaluated per row.
  void note_set_default(const PgQuery__RangeVar* relation, PgQuery__Node* const* targets,
                        std::size_t count, const char* what) {
    const std::vector<ColumnDefault>* columns = lookup(relation);
    if (columns == nullptr) return;
    for (const ColumnDefault& column : *columns) {
      const int index = target_index(targets, count, column.column);
      if (index >= 0 && is_default(targets[index]->res_target->val)) {
        unrewritable(what + relation_name(*relation) + " SET " + column.column + " = DEFAULT");
      }
    }
  }

  void note_merge(PgQuery__MergeStmt& merge) {
    const std::vector<ColumnDefault>* columns = lookup(merge.relation);
    if (columns == nullptr) return;
    for (std::size_t i = 0; i < merge.n_merge_when_clauses; ++i) {
      const PgQuery__Node* node = merge.merge_when_clauses[i];
      if (node == nullptr || node->node_case != PG_QUERY__NODE__NODE_MERGE_WHEN_CLAUSE) continue;
      const PgQuery__MergeWhenClause& action = *node->merge_when_clause;
      if (action.command_type == PG_QUERY__CMD_TYPE__CMD_UPDATE) {
        note_set_default(merge.relation, action.target_list, action.n_target_list, "MERGE ");
      }
      if (action.command_type != PG_QUERY__CMD_TYPE__CMD_INSERT) continue;
      // Each source row that inserts draws its own default values.
      for (const ColumnDefault& column : *columns) {
        const int index = target_index(action.target_list, action.n_target_list, column.column);
        if (index < 0 || static_cast<std::size_t>(index) >= action.n_values ||
            is_default(action.values[index])) {
          unrewritable("MERGE INSERT into " + relation_name(*merge.relation) +
                       " (volatile default of " + column.column + ")");
        }
      }
    }
  }

  const ColumnDefaults* defaults_;
  const KnownFunctions functions_;
  const bool writes_;  // the statement writes values (its row choice and constants matter)
  StatementWalk& out_;
  std::vector<Task> tasks_;
};

}  // namespace

StatementWalk walk_statement(PgQuery__Node& statement, const ColumnDefaults* defaults,
                             const std::vector<std::string>* volatile_functions,
                             const FunctionCatalog* functions) {
  StatementWalk walk;
  PgQuery__Node* root = nullptr;
  Context context;
  switch (statement.node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT:
    case PG_QUERY__NODE__NODE_INSERT_STMT:
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
    case PG_QUERY__NODE__NODE_DELETE_STMT:
    case PG_QUERY__NODE__NODE_MERGE_STMT:
    case PG_QUERY__NODE__NODE_CALL_STMT:
    case PG_QUERY__NODE__NODE_EXECUTE_STMT:
      root = &statement;
      break;
    case PG_QUERY__NODE__NODE_EXPLAIN_STMT:
      root = statement.explain_stmt->query;
      break;
    case PG_QUERY__NODE__NODE_COPY_STMT:
      root = statement.copy_stmt->query;
      break;
    case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
      root = statement.declare_cursor_stmt->query;
      break;
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:  // not a materialized view: that is a query
      if (statement.create_table_as_stmt->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
        root = statement.create_table_as_stmt->query;
      }
      break;
    case PG_QUERY__NODE__NODE_PREPARE_STMT:
      root = statement.prepare_stmt->query;
      context.deferred = true;
      break;
    default:  // DDL stores expressions (defaults, view and function bodies) without running them
      break;  // (but see note_per_store_statement: ADD COLUMN evaluates its default at once)
  }
  // What writes values: DML, CREATE TABLE AS and SELECT INTO, and CALL (its arguments).
  const auto writes_values = [](const PgQuery__Node* node) {
    if (node == nullptr) return false;
    const auto kind = node->node_case;
    return kind == PG_QUERY__NODE__NODE_INSERT_STMT || kind == PG_QUERY__NODE__NODE_UPDATE_STMT ||
           kind == PG_QUERY__NODE__NODE_DELETE_STMT || kind == PG_QUERY__NODE__NODE_MERGE_STMT ||
           kind == PG_QUERY__NODE__NODE_CALL_STMT ||
           (kind == PG_QUERY__NODE__NODE_SELECT_STMT && node->select_stmt->into_clause != nullptr);
  };
  const bool writes =
      writes_values(root) || statement.node_case == PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT;
  const KnownFunctions known{volatile_functions, functions};
  if (root != nullptr) SiteWalker(defaults, known, writes, walk).run(&root->base, context);
  note_per_store_statement(statement, defaults, known, walk);
  return walk;
}

}  // namespace detail
}  // namespace pgdual::routing
