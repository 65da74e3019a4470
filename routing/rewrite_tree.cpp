#include "routing/rewrite_tree.hpp"

#include <pg_query.h>

#include <cstdlib>
#include <new>

#include "routing/parse_guard.hpp"

namespace pgdual::routing::detail {
namespace {

// The same stack budget as classify() (statement_classifier.cpp): about 2 KB per nesting level
// for libpg_query's parse and deparse and for protobuf-c, counted four times over.
constexpr std::size_t kStackPerLevel = 8 * 1024;
constexpr std::size_t kStackBase = 1024 * 1024;
constexpr std::size_t kDirectLevels = 256;
constexpr std::size_t kLevelMargin = 16;
constexpr std::size_t kMaxLevels = 32 * 1024;

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
  // A token is at least one byte, so short texts need no scan to bound their nesting.
  const std::size_t levels =
      (text.size() <= kDirectLevels ? text.size() : estimate_nesting(text)) + kLevelMargin;
  if (levels <= kDirectLevels + kLevelMargin) {
    work();
    return true;
  }
  if (levels > kMaxLevels) {
    error = "statement nested too deeply to rewrite safely";
    return false;
  }
  if (!run_with_stack(levels * kStackPerLevel + kStackBase, work)) {
    error = "could not start a parser thread for a deeply nested statement";
    return false;
  }
  return true;
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
  const ProtobufCFieldDescriptor* field = protobuf_c_message_descriptor_get_field(
      &pg_query__node__descriptor, replacement->node_case);
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

}  // namespace pgdual::routing::detail
