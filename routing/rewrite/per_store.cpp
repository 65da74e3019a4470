#include "routing/rewrite/per_store.hpp"

#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <optional>
#include <string_view>

#include "routing/classify/parse_tree_walker.hpp"
#include "routing/classify/statement_classifier.hpp"
#include "routing/rewrite/input_time_literals.hpp"
#include "routing/rewrite/tree.hpp"
#include "text/ascii.hpp"

namespace pgdual::routing::detail {
namespace {

// A cast to one of these keeps 'today' a word.
bool is_text_type(const PgQuery__TypeName* type) {
  if (type == nullptr || type->n_names == 0) return false;
  if (type->n_array_bounds > 0) return true;  // '{...}' is no clock word either
  const PgQuery__Node* last = type->names[type->n_names - 1];
  if (last == nullptr || last->node_case != PG_QUERY__NODE__NODE_STRING) return false;
  const std::string name = text::ascii_lower(last->string->sval);
  return name == "text" || name == "varchar" || name == "bpchar" || name == "char" ||
         name == "name" || name == "json" || name == "jsonb" || name == "xml" || name == "bytea" ||
         name == "citext";
}

// Whether a large object's OID argument is a constant, and then whether it is 0 (0, '0'::oid):
// with 0 the server picks the OID.
std::optional<bool> constant_zero(const PgQuery__Node* node) {
  if (node != nullptr && node->node_case == PG_QUERY__NODE__NODE_TYPE_CAST) {
    node = node->type_cast->arg;
  }
  if (node == nullptr || node->node_case != PG_QUERY__NODE__NODE_A_CONST) return std::nullopt;
  const PgQuery__AConst& value = *node->a_const;
  if (value.isnull) return false;  // strict functions: NULL creates nothing
  std::string_view digits;
  switch (value.val_case) {
    case PG_QUERY__A__CONST__VAL_IVAL:
      return value.ival == nullptr || value.ival->ival == 0;
    case PG_QUERY__A__CONST__VAL_FVAL:  // beyond int4: 3000000000
      digits = value.fval != nullptr ? value.fval->fval : "";
      break;
    case PG_QUERY__A__CONST__VAL_SVAL:
      digits = value.sval != nullptr ? value.sval->sval : "";
      break;
    default:
      return std::nullopt;
  }
  const auto first = digits.find_first_not_of(" +-");
  if (first == std::string_view::npos) return false;
  digits.remove_prefix(first);
  return std::all_of(digits.begin(), digits.end(), [](char c) { return c == '0' || c == ' '; });
}

// Whether a large-object call lets the store pick the OID (lo_create(0), lo_creat(mode),
// lo_import(path), lo_from_bytea(0, data)).
bool picks_large_object_oid(const PgQuery__FuncCall& call, const std::string& name,
                            StatementWalk& out) {
  std::size_t oid_argument = 0;
  if (name == "lo_creat") return true;
  if (name == "lo_import") {
    if (call.n_args < 2) return true;
    oid_argument = 1;
  }
  if (call.n_args <= oid_argument) return false;  // PostgreSQL refuses the call
  const std::optional<bool> zero = constant_zero(call.args[oid_argument]);
  if (!zero) return true;  // computed or a parameter: it may be 0
  out.depends_on_literal_values = true;
  return *zero;
}

// Why a call in an expression that fills rows gives each store a value of its own; empty if
// pgdual takes it for immutable.
std::string per_store_function(const std::string& full, const KnownFunctions& functions,
                               StatementWalk& out) {
  if (is_nondeterministic_function(full) || is_builtin_write_function(full) ||
      reads_host_files(full)) {
    return full + "()";
  }
  if (functions.volatile_functions != nullptr &&
      function_list_contains(*functions.volatile_functions, full)) {
    return "volatile function " + full + "()";
  }
  if (functions.catalog == nullptr) return {};
  if (functions.catalog->is_extension_volatile(full)) {
    return "volatile extension function " + full + "()";
  }
  if (!functions.catalog->knows(full)) {
    out.calls_unknown_function = true;
    return full + "(), unknown to pgdual's catalog";
  }
  return {};
}

// Why an expression PostgreSQL evaluates for each existing row (a new column's default, a USING
// conversion) gives each store values of its own: a call pgdual does not take for immutable, a
// SQL value function (CURRENT_TIMESTAMP, CURRENT_USER, ...), an input-time literal. Empty if
// none: a constant, or immutable calls of constants.
std::string per_store_value(const PgQuery__Node& expression, const KnownFunctions& functions,
                            StatementWalk& out) {
  std::vector<const ProtobufCMessage*> pending{&expression.base};
  while (!pending.empty()) {
    const ProtobufCMessage* message = pending.back();
    pending.pop_back();
    if (message->descriptor == &pg_query__node__descriptor) {
      const auto& node = *reinterpret_cast<const PgQuery__Node*>(message);
      bool settled = false;
      if (std::string literal = input_time_literal(node, settled); !literal.empty()) {
        return literal;
      }
      if (settled) continue;
      if (node.node_case == PG_QUERY__NODE__NODE_SQLVALUE_FUNCTION) {
        const char* name = sql_value_function_name(*node.sqlvalue_function);
        return name != nullptr ? text::ascii_upper(name) : std::string("a SQL value function");
      }
      if (node.node_case == PG_QUERY__NODE__NODE_FUNC_CALL) {
        const PgQuery__FuncCall& call = *node.func_call;
        const std::string full = dotted_name(call.funcname, call.n_funcname);
        if (std::string why = per_store_function(full, functions, out); !why.empty()) return why;
      }
    }
    for_each_child(message, [&](const ProtobufCFieldDescriptor&, const ProtobufCMessage* child) {
      pending.push_back(child);
    });
  }
  return {};
}

const char* const kFillsRows = " (each store fills its existing rows itself)";

void note_added_column(const PgQuery__ColumnDef& column, const std::string& table,
                       const KnownFunctions& functions, StatementWalk& out) {
  const std::string added =
      "ADD COLUMN " + table + "." + (column.colname != nullptr ? column.colname : "");
  if (is_serial_type(column)) {
    note_unrewritable(out, added + " of type " + column.type_name->names[0]->string->sval +
                               " (each store numbers its existing rows itself)");
  }
  const PgQuery__Node* value = column.raw_default;
  for (std::size_t i = 0; i < column.n_constraints; ++i) {
    const PgQuery__Node* item = column.constraints[i];
    if (item == nullptr || item->node_case != PG_QUERY__NODE__NODE_CONSTRAINT) continue;
    const PgQuery__Constraint& constraint = *item->constraint;
    if (constraint.contype == PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY) {
      note_unrewritable(out, added +
                                 " GENERATED AS IDENTITY (each store numbers its existing rows "
                                 "itself)");
    } else if (constraint.contype == PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT &&
               constraint.raw_expr != nullptr) {
      value = constraint.raw_expr;
    }
  }
  if (value == nullptr) return;
  if (std::string why = per_store_value(*value, functions, out); !why.empty()) {
    note_unrewritable(out, added + " DEFAULT " + why + kFillsRows);
  }
}

void note_alter_table(const PgQuery__AlterTableStmt& alter, const KnownFunctions& functions,
                      StatementWalk& out) {
  if (alter.objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE || alter.relation == nullptr) return;
  const std::string table = relation_name(*alter.relation);
  for (std::size_t i = 0; i < alter.n_cmds; ++i) {
    const PgQuery__Node* item = alter.cmds[i];
    if (item == nullptr || item->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD) continue;
    const PgQuery__AlterTableCmd& command = *item->alter_table_cmd;
    const PgQuery__Node* def = command.def;
    if (def == nullptr || def->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF) continue;
    const PgQuery__ColumnDef& column = *def->column_def;
    if (command.subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn) {
      note_added_column(column, table, functions, out);
    } else if (command.subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType &&
               column.raw_default != nullptr) {
      if (std::string why = per_store_value(*column.raw_default, functions, out); !why.empty()) {
        const std::string name = command.name != nullptr ? command.name : "";
        note_unrewritable(out, "ALTER COLUMN " + table + "." + name + " TYPE ... USING " + why +
                                   " (each store converts its rows itself)");
      }
    }
  }
}

bool names_column(PgQuery__Node* const* columns, std::size_t count, const std::string& column) {
  return std::any_of(columns, columns + count, [&](const PgQuery__Node* item) {
    return item != nullptr && item->node_case == PG_QUERY__NODE__NODE_STRING &&
           column == item->string->sval;
  });
}

void note_copy(const PgQuery__CopyStmt& copy, const ColumnDefaults* defaults, StatementWalk& out) {
  if (!copy.is_from) return;
  if (copy.is_program) {
    return note_unrewritable(out, "COPY FROM PROGRAM (each store runs it on its own host)");
  }
  if (copy.filename != nullptr && *copy.filename != '\0') {
    return note_unrewritable(out, "COPY FROM a file (each store reads its own host's)");
  }
  // Without a column list the data gives every column; with one, a column left out gets its
  // default from each store, and COPY's rows cannot be given values the way VALUES rows can.
  if (copy.n_attlist == 0) return;
  const std::vector<ColumnDefault>* columns = table_defaults(defaults, copy.relation);
  if (columns == nullptr) return;
  for (const ColumnDefault& column : *columns) {
    if (!names_column(copy.attlist, copy.n_attlist, column.column)) {
      note_unrewritable(out, "COPY into " + relation_name(*copy.relation) +
                                 " (volatile default of " + column.column + ")");
    }
  }
}

}  // namespace

void note_unrewritable(StatementWalk& out, std::string name) {
  auto& list = out.unrewritable;
  if (std::find(list.begin(), list.end(), name) == list.end()) list.push_back(std::move(name));
}

void note_per_store_call(const PgQuery__FuncCall& call, const std::string& full,
                         const KnownFunctions& functions, StatementWalk& out) {
  if (const FunctionCatalog* catalog = functions.catalog) {
    if (!catalog->knows(full)) {
      out.calls_unknown_function = true;
      return note_unrewritable(
          out, "function " + full + "() unknown to pgdual's catalog (created since it was read)");
    }
    if (catalog->is_extension_volatile(full)) {
      note_unrewritable(out, "volatile extension function " + full + "()");
    }
  }
  if (reads_host_files(full)) {
    note_unrewritable(out, full + "() reads a file of each store's own host");
  }
  if (may_pick_large_object_oid(full) &&
      picks_large_object_oid(call, text::ascii_lower(bare_name(full)), out)) {
    note_unrewritable(out, full + "() lets each store pick the large object's OID");
  }
}

std::string input_time_literal(const PgQuery__Node& node, bool& settled) {
  settled = false;
  const PgQuery__Node* constant = &node;
  if (node.node_case == PG_QUERY__NODE__NODE_TYPE_CAST) {
    const PgQuery__TypeCast& cast = *node.type_cast;
    if (cast.arg == nullptr || cast.arg->node_case != PG_QUERY__NODE__NODE_A_CONST) return {};
    settled = true;
    if (is_text_type(cast.type_name)) return {};
    constant = cast.arg;
  }
  if (constant->node_case != PG_QUERY__NODE__NODE_A_CONST) return {};
  const PgQuery__AConst& value = *constant->a_const;
  if (value.isnull || value.val_case != PG_QUERY__A__CONST__VAL_SVAL || value.sval == nullptr ||
      !is_input_time_literal(value.sval->sval)) {
    return {};
  }
  return "'" + std::string(value.sval->sval) + "'";
}

void note_per_store_statement(const PgQuery__Node& statement, const ColumnDefaults* defaults,
                              const KnownFunctions& functions, StatementWalk& out) {
  switch (statement.node_case) {
    case PG_QUERY__NODE__NODE_DO_STMT:
      return note_unrewritable(out, "DO block (its body runs unseen on each store)");
    case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
      return note_alter_table(*statement.alter_table_stmt, functions, out);
    case PG_QUERY__NODE__NODE_COPY_STMT:
      return note_copy(*statement.copy_stmt, defaults, out);
    default:
      return;
  }
}

const std::vector<ColumnDefault>* table_defaults(const ColumnDefaults* defaults,
                                                 const PgQuery__RangeVar* relation) {
  if (defaults == nullptr || relation == nullptr || relation->relname == nullptr) return nullptr;
  auto found = defaults->find(relation_name(*relation));
  if (found == defaults->end()) found = defaults->find(relation->relname);
  if (found == defaults->end() || found->second.empty()) return nullptr;
  return &found->second;
}

}  // namespace pgdual::routing::detail
