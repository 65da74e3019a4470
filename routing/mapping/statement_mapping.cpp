#include "routing/mapping/statement_mapping.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "routing/classify/protobuf_walk.hpp"
#include "routing/mapping/name_spans.hpp"
#include "routing/rewrite/tree.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::routing {
namespace {

bool is_write(const PgQuery__Node& node) {
  switch (node.node_case) {
    case PG_QUERY__NODE__NODE_INSERT_STMT:
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
    case PG_QUERY__NODE__NODE_DELETE_STMT:
    case PG_QUERY__NODE__NODE_MERGE_STMT:
    case PG_QUERY__NODE__NODE_COPY_STMT:
      return true;
    default:
      return false;
  }
}

// Statements through which a view answers as the table would. Anything else naming a mapped
// table (DDL, TRUNCATE, GRANT, ...) must be applied to each store by hand.
bool view_serves(const PgQuery__Node& node) {
  switch (node.node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT:
    case PG_QUERY__NODE__NODE_INSERT_STMT:
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
    case PG_QUERY__NODE__NODE_DELETE_STMT:
    case PG_QUERY__NODE__NODE_COPY_STMT:
    case PG_QUERY__NODE__NODE_EXPLAIN_STMT:
    case PG_QUERY__NODE__NODE_PREPARE_STMT:
    case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
    case PG_QUERY__NODE__NODE_LOCK_STMT:
      return true;
    default:
      return false;
  }
}

// The RETURNING list of a top-level write: under MappingUse::mirrored nobody compares its rows.
const PgQuery__Node* const* top_returning(const PgQuery__Node& node, std::size_t& count) {
  count = 0;
  switch (node.node_case) {
    case PG_QUERY__NODE__NODE_INSERT_STMT:
      count = node.insert_stmt->n_returning_list;
      return node.insert_stmt->returning_list;
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
      count = node.update_stmt->n_returning_list;
      return node.update_stmt->returning_list;
    case PG_QUERY__NODE__NODE_DELETE_STMT:
      count = node.delete_stmt->n_returning_list;
      return node.delete_stmt->returning_list;
    default:
      return nullptr;
  }
}

class StatementTranslator {
 public:
  // A text edit: [start, end) of the client's text becomes `text`.
  struct Edit {
    std::size_t start = 0, end = 0;
    std::string text;
  };

  StatementTranslator(const std::string& sql, const SchemaMapping& mapping,
                      const TableResolver& resolve, MappingUse use)
      : sql_(sql), mapping_(mapping), resolve_(resolve), use_(use) {}

  // False when the statement is untranslatable (error() says why).
  bool translate(PgQuery__Node& statement) {
    collect(statement);
    if (!error_.empty()) return false;
    // A statement that names a mapped table only inside a string (setval('accounts_id_seq'))
    // is still the mapping's business.
    if (named_.empty()) return check_names_in_strings(statement);
    if (!view_serves(statement)) {
      // TRUNCATE is a write that every policy mirrors; the rest is migration.ddl's.
      ddl_ = statement.node_case != PG_QUERY__NODE__NODE_TRUNCATE_STMT;
      return fail("this kind of statement on mapped table " + named_.front()->old_table +
                  " is not translated (DDL, TRUNCATE and the like): apply it to each store and "
                  "update migration.mapping");
    }
    // Renamed even when untranslatable: under migration.nondeterministic "allow" the new store
    // gets the closest text there is (a table it does not have would fail every time).
    const bool exact =
        check_statement(statement) && check_columns(statement) && check_names_in_strings(statement);
    return rename() && exact;
  }

  bool changed() const { return !edits_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& unreadable() const { return unreadable_; }
  bool ddl() const { return ddl_; }
  std::string first_table() const {
    return named_.empty() ? string_table_ : named_.front()->old_table;
  }

 private:
  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }

  // Every RangeVar that names a mapped table, and every WITH query's name.
  void collect(PgQuery__Node& statement) {
    std::vector<ProtobufCMessage*> pending{&statement.base};
    std::set<std::string> cte_names;
    while (!pending.empty()) {
      ProtobufCMessage* message = pending.back();
      pending.pop_back();
      if (message->descriptor == &pg_query__common_table_expr__descriptor) {
        cte_names.insert(reinterpret_cast<PgQuery__CommonTableExpr*>(message)->ctename);
      } else if (message->descriptor == &pg_query__locking_clause__descriptor) {
        const auto* clause = reinterpret_cast<PgQuery__LockingClause*>(message);
        for (std::size_t i = 0; i < clause->n_locked_rels; ++i) {
          if (clause->locked_rels[i]->node_case == PG_QUERY__NODE__NODE_RANGE_VAR) {
            locked_.insert(clause->locked_rels[i]->range_var);
          }
        }
      } else if (message->descriptor == &pg_query__column_ref__descriptor) {
        const auto* ref = reinterpret_cast<PgQuery__ColumnRef*>(message);
        if (ref->n_fields >= 3 &&
            ref->fields[ref->n_fields - 3]->node_case == PG_QUERY__NODE__NODE_STRING &&
            ref->fields[ref->n_fields - 2]->node_case == PG_QUERY__NODE__NODE_STRING) {
          qualified_refs_.push_back(ref);
        }
      } else if (message->descriptor == &pg_query__range_var__descriptor) {
        auto* relation = reinterpret_cast<PgQuery__RangeVar*>(message);
        const std::string written = detail::relation_name(*relation);
        if (mapping_.names_table(relation->relname)) {
          if (const MappedTable* table = mapping_.find(resolve_(written))) {
            relations_.push_back(relation);
            if (std::find(named_.begin(), named_.end(), table) == named_.end()) {
              named_.push_back(table);
            }
            targets_.push_back(table);
          }
        }
      }
      detail::for_each_child(message, [&](const ProtobufCFieldDescriptor&,
                                          ProtobufCMessage* child) { pending.push_back(child); });
    }
    for (const auto* table : named_) {
      if (cte_names.contains(table->view_name)) {
        fail("a WITH query is named like mapped table " + table->old_table);
      }
    }
  }

  bool check_statement(const PgQuery__Node& statement) {
    if (statement.node_case == PG_QUERY__NODE__NODE_INSERT_STMT &&
        statement.insert_stmt->on_conflict_clause != nullptr &&
        names_mapped(statement.insert_stmt->relation)) {
      return fail("INSERT ... ON CONFLICT into mapped table " + named_.front()->old_table +
                  " (PostgreSQL does not support ON CONFLICT on the view that stands in for it)");
    }
    if (statement.node_case == PG_QUERY__NODE__NODE_MERGE_STMT) {
      return fail("MERGE with mapped table " + named_.front()->old_table);
    }
    if (statement.node_case == PG_QUERY__NODE__NODE_COPY_STMT && !statement.copy_stmt->is_from &&
        names_mapped(statement.copy_stmt->relation)) {
      return fail("COPY ... TO from mapped table " + named_.front()->old_table +
                  " (write it as COPY (SELECT ...) TO)");
    }
    return true;
  }

  bool names_mapped(const PgQuery__RangeVar* relation) const {
    return relation != nullptr &&
           std::find(relations_.begin(), relations_.end(), relation) != relations_.end();
  }

  // Reads of columns the new store does not keep. Wherever its rows are compared (a shadow
  // read, the primary's answer after cutover) such a read is unreadable; where they feed a write
  // the statement is untranslatable.
  bool check_columns(PgQuery__Node& statement) {
    std::set<std::string> dropped, lossy;
    for (const auto* table : named_) {
      dropped.insert(table->dropped.begin(), table->dropped.end());
      lossy.insert(table->lossy.begin(), table->lossy.end());
    }
    if (dropped.empty() && lossy.empty()) return true;
    const bool writes = writes_anywhere(statement);
    std::set<const ProtobufCMessage*> returning;
    std::size_t count = 0;
    const PgQuery__Node* const* list = top_returning(statement, count);
    for (std::size_t i = 0; i < count; ++i) returning.insert(&list[i]->base);
    // (message, inside the top-level RETURNING)
    std::vector<std::pair<ProtobufCMessage*, bool>> pending{{&statement.base, false}};
    while (!pending.empty()) {
      auto [message, in_returning] = pending.back();
      pending.pop_back();
      in_returning = in_returning || returning.contains(message);
      if (message->descriptor == &pg_query__column_ref__descriptor) {
        const auto* ref = reinterpret_cast<PgQuery__ColumnRef*>(message);
        const PgQuery__Node* last = ref->n_fields > 0 ? ref->fields[ref->n_fields - 1] : nullptr;
        std::string why;
        bool lossy_only = false;  // reads a value the view gives back only approximately
        if (last != nullptr && last->node_case == PG_QUERY__NODE__NODE_A_STAR) {
          lossy_only = dropped.empty();
          why = "* over mapped table " + named_.front()->old_table + ", whose " +
                (lossy_only ? std::string("lossy column(s) read back otherwise")
                            : std::string("dropped column(s) would read as NULL")) +
                " on the new store";
        } else if (last != nullptr && last->node_case == PG_QUERY__NODE__NODE_STRING &&
                   dropped.contains(last->string->sval)) {
          why = std::string("reads column ") + last->string->sval +
                ", which the new store does not keep (migration.mapping drops it)";
        } else if (last != nullptr && last->node_case == PG_QUERY__NODE__NODE_STRING &&
                   lossy.contains(last->string->sval)) {
          lossy_only = true;
          why = std::string("reads column ") + last->string->sval +
                ", which the new store gives back only through a lossy inverse";
        }
        if (!why.empty()) {
          if (unreadable_.empty()) unreadable_ = why;
          // Under `mirrored` only rows that feed a write matter: a top-level RETURNING's and a
          // plain SELECT's rows from the secondary are never compared. Once the new store is
          // primary (`compared`) its lossy values are the truth clients read; a dropped column
          // it cannot give at all.
          const bool feeds_write = writes && !in_returning;
          if (use_ == MappingUse::compared ? !lossy_only : feeds_write) return fail(why);
        }
      }
      detail::for_each_child(message,
                             [&](const ProtobufCFieldDescriptor&, ProtobufCMessage* child) {
                               pending.emplace_back(child, in_returning);
                             });
    }
    return true;
  }

  // A mapped table named inside a string: 'accounts'::regclass, nextval('accounts_id_seq'),
  // to_regclass('public.accounts'). The string would name the old table (or its sequence) on
  // the new store, which has neither: reported, never rewritten.
  bool check_names_in_strings(PgQuery__Node& statement) {
    static const std::set<std::string, std::less<>> kRelationFunctions = {"nextval",
                                                                          "currval",
                                                                          "setval",
                                                                          "to_regclass",
                                                                          "pg_get_serial_sequence",
                                                                          "pg_relation_size",
                                                                          "pg_total_relation_size",
                                                                          "has_table_privilege",
                                                                          "format"};
    std::vector<ProtobufCMessage*> pending{&statement.base};
    while (!pending.empty()) {
      ProtobufCMessage* message = pending.back();
      pending.pop_back();
      std::vector<const PgQuery__Node*> strings;
      if (message->descriptor == &pg_query__type_cast__descriptor) {
        const auto* cast = reinterpret_cast<PgQuery__TypeCast*>(message);
        const PgQuery__TypeName* type = cast->type_name;
        const std::string name =
            type == nullptr ? "" : detail::dotted_name(type->names, type->n_names);
        if (detail::bare_name(name) == "regclass") strings.push_back(cast->arg);
      } else if (message->descriptor == &pg_query__func_call__descriptor) {
        const auto* call = reinterpret_cast<PgQuery__FuncCall*>(message);
        const std::string name = detail::dotted_name(call->funcname, call->n_funcname);
        if (kRelationFunctions.contains(detail::bare_name(name))) {
          for (std::size_t i = 0; i < call->n_args; ++i) strings.push_back(call->args[i]);
        }
      }
      for (const PgQuery__Node* node : strings) {
        if (node == nullptr || node->node_case != PG_QUERY__NODE__NODE_A_CONST ||
            node->a_const->val_case != PG_QUERY__A__CONST__VAL_SVAL) {
          continue;
        }
        const std::string text = node->a_const->sval->sval;
        if (const MappedTable* table = named_in_string(text)) {
          const std::string why = "names mapped table " + table->old_table + " inside a string ('" +
                                  text + "'), which the translation cannot see";
          if (unreadable_.empty()) unreadable_ = why;
          if (string_table_.empty()) string_table_ = table->old_table;
          return fail(why);
        }
      }
      detail::for_each_child(message, [&](const ProtobufCFieldDescriptor&,
                                          ProtobufCMessage* child) { pending.push_back(child); });
    }
    return true;
  }

  // The mapped table a string names: the table (bare or qualified) or a sequence named after it
  // ("accounts_id_seq"), in any letter case.
  const MappedTable* named_in_string(std::string text) const {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::erase(text, '"');
    for (const auto& [name, mapped] : mapping_.tables()) {
      const MappedTable* table = &mapped;
      const std::string& bare = table->view_name;
      const std::string qualified = table->old_table;
      const auto ends_with_name = [&](const std::string& name) {
        return text == name || (text.size() > name.size() + 1 && text.ends_with(name) &&
                                text[text.size() - name.size() - 1] == '.');
      };
      if (ends_with_name(bare) || text == qualified) return table;
      const auto dot = text.rfind('.');
      const std::string last = dot == std::string::npos ? text : text.substr(dot + 1);
      if (last.starts_with(bare + "_") && last.ends_with("_seq")) return table;
    }
    return nullptr;
  }

  static bool writes_anywhere(PgQuery__Node& statement) {
    if (is_write(statement)) return true;
    if (statement.node_case == PG_QUERY__NODE__NODE_SELECT_STMT &&
        statement.select_stmt->into_clause != nullptr) {
      return true;
    }
    bool found = false;
    std::vector<ProtobufCMessage*> pending{&statement.base};
    while (!pending.empty() && !found) {
      ProtobufCMessage* message = pending.back();
      pending.pop_back();
      found = message->descriptor == &pg_query__insert_stmt__descriptor ||
              message->descriptor == &pg_query__update_stmt__descriptor ||
              message->descriptor == &pg_query__delete_stmt__descriptor;
      detail::for_each_child(message, [&](const ProtobufCFieldDescriptor&,
                                          ProtobufCMessage* child) { pending.push_back(child); });
    }
    return found;
  }

  // Edits, not a deparse: the names' spans in the client's own text point at the views.
  bool rename() {
    std::vector<std::pair<std::string, const MappedTable*>> qualified;  // (old schema, table)
    for (std::size_t i = 0; i < relations_.size(); ++i) {
      const PgQuery__RangeVar* relation = relations_[i];
      const MappedTable* table = targets_[i];
      // FOR UPDATE OF accounts names the range, which keeps the table's own name.
      if (locked_.contains(relation)) continue;
      const bool has_catalog = relation->catalogname != nullptr && relation->catalogname[0] != '\0';
      const bool has_schema = relation->schemaname != nullptr && relation->schemaname[0] != '\0';
      const std::size_t parts = 1 + (has_schema ? 1 : 0) + (has_catalog ? 1 : 0);
      const auto spans =
          name_parts_at(sql_, static_cast<std::size_t>(std::max(relation->location, 0)), parts);
      // The span must spell the very name the parser read there.
      if (spans.size() != parts ||
          identifier_value(std::string_view(sql_).substr(
              spans.back().first, spans.back().second - spans.back().first)) != relation->relname) {
        return fail("could not find the name of mapped table " + table->old_table +
                    " in the statement's text");
      }
      edits_.push_back({spans.front().first, spans.back().second,
                        text::quote_identifier(table->view_schema) + "." +
                            text::quote_identifier(table->view_name)});
      // `public.accounts.id` names the relation through its schema: point it at the view too.
      if (has_schema) qualified.emplace_back(relation->schemaname, table);
    }
    for (const auto* ref : qualified_refs_) {
      const std::size_t schema_index = ref->n_fields - 3;
      const char* schema = ref->fields[schema_index]->string->sval;
      const char* name = ref->fields[schema_index + 1]->string->sval;
      for (const auto& [old_schema, table] : qualified) {
        if (old_schema != schema || table->view_name != name) continue;
        const auto spans = name_parts_at(sql_, static_cast<std::size_t>(std::max(ref->location, 0)),
                                         schema_index + 1);
        if (spans.size() != schema_index + 1) {
          return fail("could not find a column reference to mapped table " + table->old_table +
                      " in the statement's text");
        }
        edits_.push_back(
            {spans.back().first, spans.back().second, text::quote_identifier(table->view_schema)});
        break;
      }
    }
    return true;
  }

 public:
  const std::vector<Edit>& edits() const { return edits_; }

 private:
  const std::string& sql_;
  const SchemaMapping& mapping_;
  const TableResolver& resolve_;
  MappingUse use_;
  std::vector<PgQuery__RangeVar*> relations_;  // parallel to targets_
  std::vector<const MappedTable*> targets_;
  std::vector<const MappedTable*> named_;  // distinct, in order of appearance
  // Column references of three or more names (schema.table.column), and the RangeVars of
  // FOR UPDATE OF lists.
  std::vector<const PgQuery__ColumnRef*> qualified_refs_;
  std::set<const PgQuery__RangeVar*> locked_;
  std::vector<Edit> edits_;
  std::string string_table_;  // a mapped table named only inside a string
  std::string error_;
  std::string unreadable_;
  bool ddl_ = false;
};

MappedStatement map_parsed(const std::string& sql, const SchemaMapping& mapping,
                           const TableResolver& resolve, MappingUse use) {
  MappedStatement result;
  detail::TreePtr tree = detail::parse_to_tree(sql, result.error);
  if (tree == nullptr) {
    // The server reports the client's own syntax error; nothing names a table.
    result.ok = true;
    result.error.clear();
    result.sql = sql;
    return result;
  }
  std::vector<StatementTranslator::Edit> edits;
  for (std::size_t i = 0; i < tree->n_stmts; ++i) {
    PgQuery__RawStmt* raw = tree->stmts[i];
    if (raw == nullptr || raw->stmt == nullptr) continue;
    StatementTranslator translator(sql, mapping, resolve, use);
    if (!translator.translate(*raw->stmt) && result.error.empty()) {
      result.error = translator.error();
      result.table = translator.first_table();
      result.ddl = translator.ddl();
    }
    if (!translator.changed()) continue;
    if (result.table.empty()) result.table = translator.first_table();
    if (result.unreadable.empty()) result.unreadable = translator.unreadable();
    for (const auto& edit : translator.edits()) edits.push_back(edit);
  }
  std::sort(edits.begin(), edits.end(),
            [](const auto& a, const auto& b) { return a.start < b.start; });
  std::string out;
  std::size_t copied = 0;
  for (const auto& edit : edits) {
    if (edit.start < copied || edit.end > sql.size()) {  // overlapping: cannot happen
      result.error = "overlapping edits of the statement's text";
      result.ok = false;
      result.sql.clear();
      return result;
    }
    out.append(sql, copied, edit.start - copied);
    out += edit.text;
    copied = edit.end;
  }
  result.changed = !edits.empty();
  result.sql = result.changed ? out.append(sql, copied) : sql;
  result.ok = result.error.empty();
  return result;
}

}  // namespace

bool may_name_mapped_table(std::string_view sql, const SchemaMapping& mapping) {
  // On every Query and Parse of a mapped session: no copy of the text, no allocation.
  const auto same = [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  };
  for (const auto& name : mapping.lowered_names()) {
    if (std::search(sql.begin(), sql.end(), name.begin(), name.end(), same) != sql.end()) {
      return true;
    }
  }
  return false;
}

MappedStatement map_statement_text(const std::string& sql, const SchemaMapping& mapping,
                                   const TableResolver& resolve, MappingUse use) {
  MappedStatement result;
  if (!may_name_mapped_table(sql, mapping)) {
    result.ok = true;
    result.sql = sql;
    return result;
  }
  std::string error;
  const bool ran = detail::with_parse_stack(
      sql, [&] { result = map_parsed(sql, mapping, resolve, use); }, error);
  if (!ran) {
    result = MappedStatement{};
    result.error = std::move(error);
  }
  return result;
}

}  // namespace pgdual::routing
