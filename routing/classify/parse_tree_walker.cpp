// A generic walk over the protobuf-c parse tree. Rather than listing the ~250 node types, it
// follows every message-typed field through protobuf-c's reflection (each message carries its
// descriptor), so a RangeVar or FuncCall is found wherever the grammar puts it: FROM, JOIN,
// sub-selects, CTE bodies, DML targets, ON CONFLICT, DDL. Only the few node types that carry a
// fact (RangeVar, FuncCall, SQLValueFunction, SelectStmt, the DML statements, WITH) are looked
// at by their typed structs.

#include "routing/classify/parse_tree_walker.hpp"

#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

#include "routing/classify/protobuf_walk.hpp"

namespace pgdual::routing::detail {
namespace {

struct FieldRef {
  const ProtobufCMessageDescriptor* message;
  const ProtobufCFieldDescriptor* field;
};

std::vector<FieldRef> resolve(
    std::initializer_list<std::pair<const ProtobufCMessageDescriptor*, const char*>> names) {
  std::vector<FieldRef> refs;
  for (const auto& [message, name] : names) {
    if (const auto* field = protobuf_c_message_descriptor_get_field_by_name(message, name)) {
      refs.push_back({message, field});
    }
  }
  return refs;
}

// Fields holding the relations a statement writes (DML) or changes (DDL). COPY, DROP and
// COMMENT depend on other fields and are handled by hand.
const std::vector<FieldRef>& write_target_fields() {
  static const std::vector<FieldRef> fields = resolve({
      {&pg_query__insert_stmt__descriptor, "relation"},
      {&pg_query__update_stmt__descriptor, "relation"},
      {&pg_query__delete_stmt__descriptor, "relation"},
      {&pg_query__merge_stmt__descriptor, "relation"},
      {&pg_query__into_clause__descriptor, "rel"},  // SELECT INTO, CREATE TABLE AS
      {&pg_query__truncate_stmt__descriptor, "relations"},
      {&pg_query__create_stmt__descriptor, "relation"},
      {&pg_query__alter_table_stmt__descriptor, "relation"},
      {&pg_query__index_stmt__descriptor, "relation"},
      {&pg_query__reindex_stmt__descriptor, "relation"},
      {&pg_query__cluster_stmt__descriptor, "relation"},
      {&pg_query__rename_stmt__descriptor, "relation"},
      {&pg_query__view_stmt__descriptor, "view"},
      {&pg_query__create_seq_stmt__descriptor, "sequence"},
      {&pg_query__alter_seq_stmt__descriptor, "sequence"},
      {&pg_query__create_trig_stmt__descriptor, "relation"},
      {&pg_query__rule_stmt__descriptor, "relation"},
      {&pg_query__create_policy_stmt__descriptor, "table"},
      {&pg_query__alter_policy_stmt__descriptor, "table"},
      {&pg_query__refresh_mat_view_stmt__descriptor, "relation"},
      {&pg_query__alter_object_schema_stmt__descriptor, "relation"},
      {&pg_query__grant_stmt__descriptor, "objects"},
  });
  return fields;
}

// Fields not followed: bodies that run later, not when the statement runs (a function's BEGIN
// ATOMIC body, a rule's actions), and a RangeVar that names a type, not a relation.
const std::vector<FieldRef>& ignored_fields() {
  static const std::vector<FieldRef> fields = resolve({
      {&pg_query__create_function_stmt__descriptor, "sql_body"},
      {&pg_query__rule_stmt__descriptor, "actions"},
      {&pg_query__composite_type_stmt__descriptor, "typevar"},
  });
  return fields;
}

bool is_field(const std::vector<FieldRef>& refs, const ProtobufCMessageDescriptor* message,
              const ProtobufCFieldDescriptor& field) {
  return std::any_of(refs.begin(), refs.end(), [&](const FieldRef& ref) {
    return ref.message == message && ref.field == &field;
  });
}

std::string dotted(std::initializer_list<const char*> parts) {
  std::string out;
  for (const char* part : parts) {
    if (part == nullptr || *part == '\0') continue;
    if (!out.empty()) out += '.';
    out += part;
  }
  return out;
}

// "a.b.c" from a list of String nodes (qualified names in FuncCall, DropStmt, ...).
std::string dotted(PgQuery__Node* const* items, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    if (items[i] == nullptr || items[i]->node_case != PG_QUERY__NODE__NODE_STRING) return {};
    if (!out.empty()) out += '.';
    out += items[i]->string->sval;
  }
  return out;
}

bool is_table_like(PgQuery__ObjectType type) {
  switch (type) {
    case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
    case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
    case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
    case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
    case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE:
      return true;
    default:
      return false;
  }
}

bool is_data_modification(const PgQuery__Node* node) {
  if (node == nullptr) return false;
  switch (node->node_case) {
    case PG_QUERY__NODE__NODE_INSERT_STMT:
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
    case PG_QUERY__NODE__NODE_DELETE_STMT:
    case PG_QUERY__NODE__NODE_MERGE_STMT:
      return true;
    default:
      return false;
  }
}

// ADD COLUMN with a default, an identity or a serial type, and ALTER COLUMN ... TYPE ... USING:
// PostgreSQL computes a value for every existing row.
bool fills_rows(const PgQuery__AlterTableCmd& command) {
  const PgQuery__Node* def = command.def;
  if (def == nullptr || def->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF) return false;
  const PgQuery__ColumnDef& column = *def->column_def;
  if (command.subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType) {
    return column.raw_default != nullptr;
  }
  if (command.subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn) return false;
  if (column.raw_default != nullptr || is_serial_type(column)) return true;
  for (std::size_t i = 0; i < column.n_constraints; ++i) {
    const PgQuery__Node* item = column.constraints[i];
    if (item == nullptr || item->node_case != PG_QUERY__NODE__NODE_CONSTRAINT) continue;
    const auto type = item->constraint->contype;
    if (type == PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT ||
        type == PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY) {
      return true;
    }
  }
  return false;
}

void add_unique(std::vector<std::string>& list, std::string name) {
  if (name.empty()) return;
  if (std::find(list.begin(), list.end(), name) == list.end()) list.push_back(std::move(name));
}

class FactCollector {
 public:
  explicit FactCollector(TreeFacts& facts) : facts_(facts) {}

  // Iterative, with an explicit work stack: the tree can be thousands of levels deep and this
  // walk must not add to the stack that parsing it already needed.
  void run(const ProtobufCMessage* root) {
    tasks_.push_back(Task{Task::visit, root, nullptr, 0});
    while (!tasks_.empty()) {
      const Task task = tasks_.back();
      tasks_.pop_back();
      switch (task.kind) {
        case Task::visit:
          visit(task.message);
          break;
        case Task::add_cte_name:
          cte_scope_.emplace_back(task.name);
          break;
        case Task::restore_scope:
          cte_scope_.resize(task.scope_mark);
          break;
      }
    }
  }

 private:
  struct Task {
    enum Kind { visit, add_cte_name, restore_scope } kind;
    const ProtobufCMessage* message;
    const char* name;
    std::size_t scope_mark;
  };

  void visit(const ProtobufCMessage* message) {
    const ProtobufCMessageDescriptor* descriptor = message->descriptor;
    if (descriptor == &pg_query__range_var__descriptor) {
      note_table(reinterpret_cast<const PgQuery__RangeVar*>(message));
      return;  // only an Alias below
    }
    if (descriptor == &pg_query__sqlvalue_function__descriptor) {
      const auto* svf = reinterpret_cast<const PgQuery__SQLValueFunction*>(message);
      if (const char* name = sql_value_function_name(*svf)) add_unique(facts_.functions, name);
      return;
    }
    note_facts(message);
    note_write_targets(message);

    // Tasks run last-in first-out, so they are pushed in reverse: the WITH clause first (its
    // names enter the scope as it goes), then the children in field order, then the scope is
    // restored, since a WITH's names are visible only inside its own statement.
    const PgQuery__WithClause* with = with_clause_of(message);
    if (with != nullptr) {
      tasks_.push_back(Task{Task::restore_scope, nullptr, nullptr, cte_scope_.size()});
    }
    const std::size_t first_child = tasks_.size();
    for_each_child(message,
                   [&](const ProtobufCFieldDescriptor& field, const ProtobufCMessage* child) {
                     if (with != nullptr && child == &with->base)
                       return;  // handled below, with scoping
                     if (is_field(ignored_fields(), descriptor, field)) return;
                     tasks_.push_back(Task{Task::visit, child, nullptr, 0});
                   });
    std::reverse(tasks_.begin() + static_cast<std::ptrdiff_t>(first_child), tasks_.end());
    if (with != nullptr) push_with_clause(*with);
  }

  std::string range_var_name(const PgQuery__RangeVar* rv) const {
    return dotted({rv->catalogname, rv->schemaname, rv->relname});
  }

  bool is_cte_name(const PgQuery__RangeVar* rv) const {
    if ((rv->schemaname && *rv->schemaname) || (rv->catalogname && *rv->catalogname)) {
      return false;
    }
    return std::find(cte_scope_.begin(), cte_scope_.end(), std::string_view(rv->relname)) !=
           cte_scope_.end();
  }

  void note_table(const PgQuery__RangeVar* rv) {
    if (rv->relname == nullptr || is_cte_name(rv)) return;
    add_unique(facts_.tables, range_var_name(rv));
  }

  void note_write(std::string name) {
    add_unique(facts_.tables, name);
    add_unique(facts_.write_tables, std::move(name));
  }

  // DML and DDL targets always name real relations: PostgreSQL does not look them up among
  // the CTEs, so no CTE exclusion here.
  void note_write_target(const ProtobufCMessage* child) {
    if (child->descriptor == &pg_query__node__descriptor) {
      const auto* node = reinterpret_cast<const PgQuery__Node*>(child);
      if (node->node_case != PG_QUERY__NODE__NODE_RANGE_VAR) return;
      child = &node->range_var->base;
    }
    if (child->descriptor != &pg_query__range_var__descriptor) return;
    const auto* rv = reinterpret_cast<const PgQuery__RangeVar*>(child);
    if (rv->relname != nullptr) note_write(range_var_name(rv));
  }

  void note_write_targets(const ProtobufCMessage* message) {
    const ProtobufCMessageDescriptor* descriptor = message->descriptor;
    for (const FieldRef& ref : write_target_fields()) {
      if (ref.message != descriptor) continue;
      for_each_child(message,
                     [&](const ProtobufCFieldDescriptor& field, const ProtobufCMessage* child) {
                       if (&field == ref.field) note_write_target(child);
                     });
    }
    if (descriptor == &pg_query__copy_stmt__descriptor) {
      const auto* copy = reinterpret_cast<const PgQuery__CopyStmt*>(message);
      if (copy->is_from && copy->relation != nullptr) note_write_target(&copy->relation->base);
    } else if (descriptor == &pg_query__drop_stmt__descriptor) {
      const auto* drop = reinterpret_cast<const PgQuery__DropStmt*>(message);
      if (!is_table_like(drop->remove_type)) return;
      for (std::size_t i = 0; i < drop->n_objects; ++i) note_qualified_name(drop->objects[i]);
    } else if (descriptor == &pg_query__comment_stmt__descriptor) {
      const auto* comment = reinterpret_cast<const PgQuery__CommentStmt*>(message);
      if (is_table_like(comment->objtype)) note_qualified_name(comment->object);
    }
  }

  // DROP TABLE and COMMENT ON TABLE name relations as a List of String, not a RangeVar.
  void note_qualified_name(const PgQuery__Node* node) {
    if (node == nullptr || node->node_case != PG_QUERY__NODE__NODE_LIST) return;
    note_write(dotted(node->list->items, node->list->n_items));
  }

  void note_facts(const ProtobufCMessage* message) {
    const ProtobufCMessageDescriptor* descriptor = message->descriptor;
    if (descriptor == &pg_query__func_call__descriptor) {
      const auto* call = reinterpret_cast<const PgQuery__FuncCall*>(message);
      add_unique(facts_.functions, dotted(call->funcname, call->n_funcname));
    } else if (descriptor == &pg_query__select_stmt__descriptor) {
      const auto* select = reinterpret_cast<const PgQuery__SelectStmt*>(message);
      if (select->into_clause != nullptr) facts_.is_select_into = true;
      if (select->limit_count != nullptr) facts_.may_choose_rows_per_store = true;
      for (std::size_t i = 0; i < select->n_locking_clause; ++i) {
        const PgQuery__Node* item = select->locking_clause[i];
        if (item == nullptr || item->node_case != PG_QUERY__NODE__NODE_LOCKING_CLAUSE) continue;
        facts_.has_locking_clause = true;
        if (item->locking_clause->wait_policy == PG_QUERY__LOCK_WAIT_POLICY__LockWaitSkip) {
          facts_.may_choose_rows_per_store = true;
        }
        facts_.strongest_lock =
            std::max(facts_.strongest_lock, static_cast<int>(item->locking_clause->strength));
      }
    } else if (descriptor == &pg_query__current_of_expr__descriptor) {
      facts_.may_choose_rows_per_store = true;
    } else if (descriptor == &pg_query__do_stmt__descriptor) {
      facts_.may_evaluate_per_store = true;
    } else if (descriptor == &pg_query__alter_table_cmd__descriptor) {
      if (fills_rows(*reinterpret_cast<const PgQuery__AlterTableCmd*>(message))) {
        facts_.may_evaluate_per_store = true;
      }
    } else if (descriptor == &pg_query__copy_stmt__descriptor) {
      const auto* copy = reinterpret_cast<const PgQuery__CopyStmt*>(message);
      if (copy->is_from && (copy->is_program || (copy->filename && *copy->filename))) {
        facts_.may_evaluate_per_store = true;
      }
    } else if (descriptor == &pg_query__column_ref__descriptor) {
      const auto* ref = reinterpret_cast<const PgQuery__ColumnRef*>(message);
      const PgQuery__Node* last = ref->n_fields > 0 ? ref->fields[ref->n_fields - 1] : nullptr;
      if (last != nullptr && last->node_case == PG_QUERY__NODE__NODE_STRING &&
          std::string_view(last->string->sval) == "ctid") {
        facts_.may_choose_rows_per_store = true;
      }
    } else if (descriptor == &pg_query__insert_stmt__descriptor ||
               descriptor == &pg_query__update_stmt__descriptor ||
               descriptor == &pg_query__delete_stmt__descriptor ||
               descriptor == &pg_query__merge_stmt__descriptor) {
      facts_.has_data_modification = true;
    } else if (descriptor == &pg_query__common_table_expr__descriptor) {
      const auto* cte = reinterpret_cast<const PgQuery__CommonTableExpr*>(message);
      if (is_data_modification(cte->ctequery)) facts_.has_modifying_cte = true;
    }
  }

  static const PgQuery__WithClause* with_clause_of(const ProtobufCMessage* message) {
    const ProtobufCMessageDescriptor* d = message->descriptor;
    if (d == &pg_query__select_stmt__descriptor) {
      return reinterpret_cast<const PgQuery__SelectStmt*>(message)->with_clause;
    }
    if (d == &pg_query__insert_stmt__descriptor) {
      return reinterpret_cast<const PgQuery__InsertStmt*>(message)->with_clause;
    }
    if (d == &pg_query__update_stmt__descriptor) {
      return reinterpret_cast<const PgQuery__UpdateStmt*>(message)->with_clause;
    }
    if (d == &pg_query__delete_stmt__descriptor) {
      return reinterpret_cast<const PgQuery__DeleteStmt*>(message)->with_clause;
    }
    if (d == &pg_query__merge_stmt__descriptor) {
      return reinterpret_cast<const PgQuery__MergeStmt*>(message)->with_clause;
    }
    return nullptr;
  }

  static const char* cte_name(const PgQuery__Node* node) {
    if (node == nullptr || node->node_case != PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR) {
      return nullptr;
    }
    return node->common_table_expr->ctename;
  }

  // In WITH RECURSIVE every CTE sees all the names (itself included); otherwise a CTE sees only
  // the ones defined before it. The names stay in scope for the rest of the statement.
  void push_with_clause(const PgQuery__WithClause& with) {
    const std::size_t first = tasks_.size();
    if (with.recursive) {
      for (std::size_t i = 0; i < with.n_ctes; ++i) {
        if (const char* name = cte_name(with.ctes[i])) {
          tasks_.push_back(Task{Task::add_cte_name, nullptr, name, 0});
        }
      }
    }
    for (std::size_t i = 0; i < with.n_ctes; ++i) {
      if (with.ctes[i] == nullptr) continue;
      tasks_.push_back(Task{Task::visit, &with.ctes[i]->base, nullptr, 0});
      const char* name = cte_name(with.ctes[i]);
      if (!with.recursive && name != nullptr) {
        tasks_.push_back(Task{Task::add_cte_name, nullptr, name, 0});
      }
    }
    std::reverse(tasks_.begin() + static_cast<std::ptrdiff_t>(first), tasks_.end());
  }

  TreeFacts& facts_;
  std::vector<Task> tasks_;
  std::vector<std::string> cte_scope_;
};

}  // namespace

const char* sql_value_function_name(const PgQuery__SQLValueFunction& svf) {
  switch (svf.op) {
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_DATE:
      return "current_date";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME_N:
      return "current_time";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP_N:
      return "current_timestamp";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME_N:
      return "localtime";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP_N:
      return "localtimestamp";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_ROLE:
      return "current_role";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_USER:
      return "current_user";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_USER:
      return "user";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_SESSION_USER:
      return "session_user";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_CATALOG:
      return "current_catalog";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_SCHEMA:
      return "current_schema";
    default:
      return nullptr;
  }
}

bool is_serial_type(const PgQuery__ColumnDef& column) {
  const PgQuery__TypeName* type = column.type_name;
  if (type == nullptr || type->n_names != 1 || type->names[0] == nullptr ||
      type->names[0]->node_case != PG_QUERY__NODE__NODE_STRING) {
    return false;
  }
  const std::string_view name = type->names[0]->string->sval;
  return name == "serial" || name == "bigserial" || name == "smallserial" || name == "serial2" ||
         name == "serial4" || name == "serial8";
}

TreeFacts collect_tree_facts(const PgQuery__Node& statement) {
  TreeFacts facts;
  FactCollector(facts).run(&statement.base);
  return facts;
}

}  // namespace pgdual::routing::detail
