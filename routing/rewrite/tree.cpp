#include "routing/rewrite/tree.hpp"

#include <pg_query.h>

#include <cstdlib>
#include <new>

#include "routing/classify/parse_guard.hpp"

namespace pgdual::routing::detail {
namespace {

template <class T>
T* allocate(void (*init)(T*)) {
  void* memory = std::calloc(1, sizeof(T));
  if (memory == nullptr) throw std::bad_alloc();
  T* message = static_cast<T*>(memory);
  init(message);
  return message;
}

char* copy_string(std::string_view text) {
  auto* copy = static_cast<char*>(std::malloc(text.size() + 1));
  if (copy == nullptr) throw std::bad_alloc();
  std::memcpy(copy, text.data(), text.size());
  copy[text.size()] = '\0';
  return copy;
}

NodePtr make_node() { return NodePtr(allocate(pg_query__node__init)); }

// The message a Node holds, whatever its type (every member of the oneof is a message).
ProtobufCMessage* member_of(const PgQuery__Node& node) {
  const ProtobufCFieldDescriptor* field =
      protobuf_c_message_descriptor_get_field(&pg_query__node__descriptor, node.node_case);
  if (field == nullptr) return nullptr;
  return member_at<ProtobufCMessage*>(&node.base, field->offset);
}

NodePtr make_name_string(std::string_view text) {
  NodePtr node = make_node();
  node->string = allocate(pg_query__string__init);
  node->node_case = PG_QUERY__NODE__NODE_STRING;
  node->string->sval = copy_string(text);
  return node;
}

NodePtr make_a_const() {
  NodePtr node = make_node();
  node->a_const = allocate(pg_query__a__const__init);
  node->node_case = PG_QUERY__NODE__NODE_A_CONST;
  node->a_const->location = -1;
  return node;
}

}  // namespace

void MessageDeleter::operator()(PgQuery__Node* node) const {
  pg_query__node__free_unpacked(node, nullptr);
}

void MessageDeleter::operator()(PgQuery__ParseResult* tree) const {
  pg_query__parse_result__free_unpacked(tree, nullptr);
}

TreePtr parse_to_tree(const std::string& text, std::string& error) {
  PgQueryProtobufParseResult parsed = pg_query_parse_protobuf(text.c_str());
  if (parsed.error != nullptr) {
    error = parsed.error->message != nullptr ? parsed.error->message : "syntax error";
    pg_query_free_protobuf_parse_result(parsed);
    return nullptr;
  }
  TreePtr tree(pg_query__parse_result__unpack(
      nullptr, parsed.parse_tree.len, reinterpret_cast<const uint8_t*>(parsed.parse_tree.data)));
  pg_query_free_protobuf_parse_result(parsed);
  if (tree == nullptr) error = "could not decode the parse tree";
  return tree;
}

bool with_parse_stack(const std::string& text, const std::function<void()>& work,
                      std::string& error) {
  const ParseStack outcome = run_on_parse_stack(text, work);
  if (outcome == ParseStack::too_deep) error = "statement nested too deeply to rewrite safely";
  if (outcome == ParseStack::no_thread) {
    error = "could not start a parser thread for a deeply nested statement";
  }
  return outcome == ParseStack::ran;
}

bool deparse_statement(std::int32_t version, PgQuery__RawStmt& statement, std::string& sql,
                       std::string& error) {
  PgQuery__ParseResult one = PG_QUERY__PARSE_RESULT__INIT;
  PgQuery__RawStmt* statements[] = {&statement};
  one.version = version;
  one.n_stmts = 1;
  one.stmts = statements;
  std::string packed(pg_query__parse_result__get_packed_size(&one), '\0');
  pg_query__parse_result__pack(&one, reinterpret_cast<uint8_t*>(packed.data()));
  PgQueryDeparseResult deparsed =
      pg_query_deparse_protobuf(PgQueryProtobuf{packed.size(), packed.data()});
  const bool ok = deparsed.error == nullptr && deparsed.query != nullptr;
  if (ok) {
    sql = deparsed.query;
  } else {
    error = deparsed.error != nullptr && deparsed.error->message != nullptr
                ? deparsed.error->message
                : "could not deparse the statement";
  }
  pg_query_free_deparse_result(deparsed);
  return ok;
}

std::string dotted_name(PgQuery__Node* const* parts, std::size_t count) {
  std::string name;
  for (std::size_t i = 0; i < count; ++i) {
    if (parts[i] == nullptr || parts[i]->node_case != PG_QUERY__NODE__NODE_STRING) return {};
    if (i > 0) name += '.';
    name += parts[i]->string->sval;
  }
  return name;
}

bool is_default(const PgQuery__Node* node) {
  return node != nullptr && node->node_case == PG_QUERY__NODE__NODE_SET_TO_DEFAULT;
}

int target_index(PgQuery__Node* const* targets, std::size_t count, std::string_view column) {
  for (std::size_t i = 0; i < count; ++i) {
    const PgQuery__Node* target = targets[i];
    if (target != nullptr && target->node_case == PG_QUERY__NODE__NODE_RES_TARGET &&
        column == target->res_target->name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

const PgQuery__List* values_row(const PgQuery__SelectStmt& select, std::size_t row) {
  if (row >= select.n_values_lists) return nullptr;
  const PgQuery__Node* node = select.values_lists[row];
  return node != nullptr && node->node_case == PG_QUERY__NODE__NODE_LIST ? node->list : nullptr;
}

std::string relation_name(const PgQuery__RangeVar& relation) {
  const std::string schema = relation.schemaname != nullptr ? relation.schemaname : "";
  const std::string name = relation.relname != nullptr ? relation.relname : "";
  return schema.empty() ? name : schema + "." + name;
}

std::string regclass_literal(const PgQuery__Node* arg) {
  if (arg != nullptr && arg->node_case == PG_QUERY__NODE__NODE_TYPE_CAST) {
    const PgQuery__TypeName* type = arg->type_cast->type_name;
    if (type == nullptr) return {};
    const std::string name = dotted_name(type->names, type->n_names);
    if (name != "regclass" && name != "pg_catalog.regclass") return {};
    arg = arg->type_cast->arg;
  }
  if (arg == nullptr || arg->node_case != PG_QUERY__NODE__NODE_A_CONST ||
      arg->a_const->val_case != PG_QUERY__A__CONST__VAL_SVAL) {
    return {};
  }
  return arg->a_const->sval->sval;
}

int select_width(const PgQuery__Node* node) {
  if (node == nullptr || node->node_case != PG_QUERY__NODE__NODE_SELECT_STMT) return -1;
  const PgQuery__SelectStmt& select = *node->select_stmt;
  if (select.op != PG_QUERY__SET_OPERATION__SETOP_NONE) return -1;
  for (std::size_t i = 0; i < select.n_target_list; ++i) {
    const PgQuery__Node* target = select.target_list[i];
    if (target == nullptr || target->node_case != PG_QUERY__NODE__NODE_RES_TARGET) return -1;
    const PgQuery__Node* value = target->res_target->val;
    if (value == nullptr) return -1;
    if (value->node_case == PG_QUERY__NODE__NODE_COLUMN_REF) {
      const PgQuery__ColumnRef& ref = *value->column_ref;
      if (ref.n_fields > 0 &&
          ref.fields[ref.n_fields - 1]->node_case == PG_QUERY__NODE__NODE_A_STAR)
        return -1;
    } else if (value->node_case == PG_QUERY__NODE__NODE_A_INDIRECTION) {
      return -1;  // (composite).* or an element: the width is not plain to see
    }
  }
  return static_cast<int>(select.n_target_list);
}

const PgQuery__SelectStmt* values_of(const PgQuery__InsertStmt& insert) {
  const PgQuery__Node* source = insert.select_stmt;
  if (source == nullptr || source->node_case != PG_QUERY__NODE__NODE_SELECT_STMT) return nullptr;
  const PgQuery__SelectStmt& select = *source->select_stmt;
  if (select.n_values_lists == 0 || select.op != PG_QUERY__SET_OPERATION__SETOP_NONE)
    return nullptr;
  return &select;
}

NodePtr make_string_const(std::string_view value) {
  NodePtr node = make_a_const();
  node->a_const->sval = allocate(pg_query__string__init);
  node->a_const->val_case = PG_QUERY__A__CONST__VAL_SVAL;
  node->a_const->sval->sval = copy_string(value);
  return node;
}

NodePtr make_number_const(std::string_view literal) {
  NodePtr node = make_a_const();
  node->a_const->fval = allocate(pg_query__float__init);
  node->a_const->val_case = PG_QUERY__A__CONST__VAL_FVAL;
  node->a_const->fval->fval = copy_string(literal);
  return node;
}

NodePtr make_param_ref(int number) {
  NodePtr node = make_node();
  node->node_case = PG_QUERY__NODE__NODE_PARAM_REF;
  node->param_ref = allocate(pg_query__param_ref__init);
  node->param_ref->number = number;
  node->param_ref->location = -1;
  return node;
}

NodePtr make_func_call(const char* schema, const char* name, NodePtr arg) {
  NodePtr node = make_node();
  node->func_call = allocate(pg_query__func_call__init);
  node->node_case = PG_QUERY__NODE__NODE_FUNC_CALL;
  PgQuery__FuncCall& call = *node->func_call;
  call.location = -1;
  call.funcformat = PG_QUERY__COERCION_FORM__COERCE_EXPLICIT_CALL;
  append_node(call.funcname, call.n_funcname, make_name_string(schema));
  append_node(call.funcname, call.n_funcname, make_name_string(name));
  append_node(call.args, call.n_args, std::move(arg));
  return node;
}

NodePtr make_coalesce(NodePtr first, NodePtr second) {
  NodePtr node = make_node();
  node->coalesce_expr = allocate(pg_query__coalesce_expr__init);
  node->node_case = PG_QUERY__NODE__NODE_COALESCE_EXPR;
  node->coalesce_expr->location = -1;
  append_node(node->coalesce_expr->args, node->coalesce_expr->n_args, std::move(first));
  append_node(node->coalesce_expr->args, node->coalesce_expr->n_args, std::move(second));
  return node;
}

NodePtr make_integer_const(std::int32_t value) {
  NodePtr node = make_a_const();
  node->a_const->ival = allocate(pg_query__integer__init);
  node->a_const->val_case = PG_QUERY__A__CONST__VAL_IVAL;
  node->a_const->ival->ival = value;
  return node;
}

NodePtr make_cast(NodePtr arg, const char* type, int precision) {
  NodePtr node = make_node();
  node->type_cast = allocate(pg_query__type_cast__init);
  node->node_case = PG_QUERY__NODE__NODE_TYPE_CAST;
  PgQuery__TypeCast& cast = *node->type_cast;
  cast.location = -1;
  cast.arg = arg.release();
  cast.type_name = allocate(pg_query__type_name__init);
  PgQuery__TypeName& name = *cast.type_name;
  name.typemod = -1;  // as the parser leaves it: the modifiers are in typmods
  name.location = -1;
  // Qualified, so that a type of the same name elsewhere on the search_path cannot capture it.
  append_node(name.names, name.n_names, make_name_string("pg_catalog"));
  append_node(name.names, name.n_names, make_name_string(type));
  if (precision >= 0) append_node(name.typmods, name.n_typmods, make_integer_const(precision));
  return node;
}

NodePtr make_column_target(std::string_view column) {
  NodePtr node = make_node();
  node->res_target = allocate(pg_query__res_target__init);
  node->node_case = PG_QUERY__NODE__NODE_RES_TARGET;
  node->res_target->location = -1;
  node->res_target->name = copy_string(column);
  return node;
}

NodePtr make_list() {
  NodePtr node = make_node();
  node->list = allocate(pg_query__list__init);
  node->node_case = PG_QUERY__NODE__NODE_LIST;
  return node;
}

NodePtr make_values_select() {
  NodePtr node = make_node();
  node->select_stmt = allocate(pg_query__select_stmt__init);
  node->node_case = PG_QUERY__NODE__NODE_SELECT_STMT;
  node->select_stmt->op = PG_QUERY__SET_OPERATION__SETOP_NONE;
  node->select_stmt->limit_option = PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_DEFAULT;
  return node;
}

void replace_node(PgQuery__Node& target, NodePtr replacement) {
  ProtobufCMessage* previous = member_of(target);
  const ProtobufCFieldDescriptor* field =
      protobuf_c_message_descriptor_get_field(&pg_query__node__descriptor, replacement->node_case);
  if (field == nullptr) return;  // an empty replacement: nothing to put in
  ProtobufCMessage* content = member_at<ProtobufCMessage*>(&replacement->base, field->offset);
  std::memcpy(reinterpret_cast<char*>(&target) + field->offset, &content, sizeof content);
  target.node_case = replacement->node_case;
  replacement->node_case = PG_QUERY__NODE__NODE__NOT_SET;  // its content now belongs to target
  if (previous != nullptr) protobuf_c_message_free_unpacked(previous, nullptr);
}

void append_node(PgQuery__Node**& items, std::size_t& count, NodePtr node) {
  void* grown = std::realloc(items, (count + 1) * sizeof(PgQuery__Node*));
  if (grown == nullptr) throw std::bad_alloc();
  items = static_cast<PgQuery__Node**>(grown);
  items[count++] = node.release();
}

std::string_view bare_name(std::string_view name) {
  const auto dot = name.rfind('.');
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

}  // namespace pgdual::routing::detail
