#include "routing/unit_builder.hpp"

#include "protocol/constants.hpp"
#include "protocol/message_reader.hpp"
#include "protocol/messages.hpp"
#include "routing/cdc_rules.hpp"
#include "routing/classify/literal_key.hpp"
#include "routing/rewrite/policy_error.hpp"

namespace pgdual::routing {

namespace frontend = protocol::frontend;

namespace {

bool has_ddl(const Classification& classification) {
  for (const auto& statement : classification.statements) {
    if (statement.kind == StatementKind::ddl) return true;
  }
  return false;
}

// COPY ... FROM STDIN (a COPY that writes).
bool unit_copies_in(const UnitFacts& facts) {
  for (const auto* statement : facts.statements) {
    if (statement->command == "COPY" && statement->kind == StatementKind::write) return true;
  }
  return false;
}

}  // namespace

namespace {
// A portal name is not truncated by the server, but the error that repeats it should stay short.
constexpr std::size_t kMaxRefusedPortalName = 400;
}  // namespace

UnitBuilder::UnitBuilder(ClassificationCache& cache, const ClassifierOptions& options)
    : cache_(cache), options_(&options) {}

void UnitBuilder::reset() {
  facts_ = UnitFacts{};
  keep_alive_.clear();
  first_text_.clear();
}

void UnitBuilder::add_statements(const ClassificationPtr& classification) {
  keep_alive_.push_back(classification);
  if (!classification->parsed) facts_.parse_failed = true;
  for (const auto& statement : classification->statements) facts_.statements.push_back(&statement);
}

std::optional<std::string> UnitBuilder::rejection_if_ddl(const Classification& classification,
                                                         bool as_parse,
                                                         std::string_view name) const {
  std::string reason;
  if (reject_ddl_ && has_ddl(classification)) {
    reason = reject_reason_;
  } else if (cdc_refusals_ || !cdc_writes_refused_.empty()) {
    std::vector<const StatementInfo*> statements;
    for (const auto& statement : classification.statements) statements.push_back(&statement);
    if (!cdc_writes_refused_.empty() && cdc_writes(statements)) {
      reason = cdc_writes_refused_;
    } else if (auto refusal = cdc_refusal(statements, config::DdlPolicy::mirror);
               refusal && cdc_refusals_) {
      reason = *refusal;
    }
  }
  if (reason.empty()) return std::nullopt;
  std::string bytes;
  if (as_parse) {
    protocol::append_parse(bytes, name, policy_error_statement(reason), {});
  } else {
    protocol::append_query(bytes, policy_error_statement(reason));
  }
  return bytes;
}

std::string UnitBuilder::session_state_replay() const {
  std::string bytes;
  for (const auto& [name, parse] : named_parses_) bytes.append(parse);
  for (const auto& [name, set] : settings_) protocol::append_query(bytes, set);
  if (!named_parses_.empty()) protocol::append_sync(bytes);
  return bytes;
}

void UnitBuilder::remember_settings(const Classification& classification, std::string_view sql) {
  // A lone SET in a simple Query (not SET LOCAL) changes the session for
  // good; the latest one per parameter is what a new connection needs.
  if (classification.statements.size() != 1) return;
  const auto& statement = classification.statements.front();
  if (statement.kind != StatementKind::session || statement.is_local || statement.name.empty())
    return;
  if (statement.command == "SET") {
    settings_[statement.name] = std::string(sql);
  } else if (statement.command == "RESET") {
    settings_.erase(statement.name);
  }
}

UnitBuilder::ClassificationPtr UnitBuilder::classify_text(std::string_view sql) {
  last_key_ = literal_key(sql);
  auto classification =
      std::make_shared<const Classification>(cache_.get(last_key_, sql, *options_));
  last_classification_ = classification;
  if (first_text_.empty()) first_text_ = std::string(sql);
  return classification;
}

FrameRole UnitBuilder::add_query(protocol::MessageReader& reader) {
  auto sql = reader.cstring();
  if (!sql) {
    facts_.parse_failed = true;
    return FrameRole::terminator;
  }
  auto classification = classify_text(*sql);
  replacement_ = rejection_if_ddl(*classification, false, {});
  remember_settings(*classification, *sql);
  add_statements(classification);
  return FrameRole::terminator;
}

FrameRole UnitBuilder::add_parse(protocol::MessageReader& reader, const protocol::Frame& frame) {
  auto name = reader.cstring();
  auto sql = reader.cstring();
  if (!name || !sql) {
    facts_.parse_failed = true;
    return FrameRole::part;
  }
  auto classification = classify_text(*sql);
  replacement_ = rejection_if_ddl(*classification, true, *name);
  if (!name->empty()) {
    facts_.changes_statement_state = true;
    // Kept to prepare it again on a secondary connection opened later.
    named_parses_[std::string(*name)] =
        std::string(reinterpret_cast<const char*>(frame.payload.data()) - 5, frame.size);
  }
  statements_[std::string(*name)] = std::move(classification);
  return FrameRole::part;
}

FrameRole UnitBuilder::add_bind(protocol::MessageReader& reader) {
  auto portal = reader.cstring();
  auto statement = reader.cstring();
  if (!portal || !statement) return FrameRole::part;
  auto it = statements_.find(std::string(*statement));
  if (it != statements_.end()) {
    portals_[std::string(*portal)] = it->second;
  } else {
    portals_.erase(std::string(*portal));
  }
  return FrameRole::part;
}

FrameRole UnitBuilder::add_execute(protocol::MessageReader& reader) {
  auto portal = reader.cstring();
  if (!portal) return FrameRole::part;
  auto it = portals_.find(std::string(*portal));
  if (it != portals_.end()) {
    add_statements(it->second);
    if (!cdc_writes_refused_.empty()) {
      // A statement prepared before writes were refused: its Execute is refused instead. The
      // server answers an Execute of a portal that does not exist with an error in protocol
      // order, and the portal's name carries the reason.
      std::vector<const StatementInfo*> statements;
      for (const auto& statement : it->second->statements) statements.push_back(&statement);
      if (cdc_writes(statements)) {
        std::string bytes;
        protocol::append_execute(bytes, cdc_writes_refused_.substr(0, kMaxRefusedPortalName), 0);
        replacement_ = std::move(bytes);
      }
    }
  } else {
    // A portal we never saw bound (the server will reject it): treat
    // the unit as unknown, which keeps it off the secondary.
    facts_.parse_failed = true;
  }
  return FrameRole::part;
}

FrameRole UnitBuilder::add_close(protocol::MessageReader& reader) {
  auto target = reader.byte();
  auto name = reader.cstring();
  if (!target || !name) return FrameRole::part;
  facts_.changes_statement_state = true;
  if (*target == 'S') {
    statements_.erase(std::string(*name));
    named_parses_.erase(std::string(*name));
  } else {
    portals_.erase(std::string(*name));
  }
  return FrameRole::part;
}

std::optional<FrameRole> UnitBuilder::extended_copy_role(char type) {
  const bool copy_message =
      type == frontend::kCopyData || type == frontend::kCopyDone || type == frontend::kCopyFail;
  const bool ignored_while_copying = type == frontend::kSync || type == frontend::kFlush;
  if (copy_message) {
    extended_copy_ = (type == frontend::kCopyData) ? ExtendedCopy::copying : ExtendedCopy::ending;
    return FrameRole::copy_data;
  }
  if (ignored_while_copying && extended_copy_ == ExtendedCopy::copying) return FrameRole::copy_data;
  if (type == frontend::kSync && extended_copy_ == ExtendedCopy::ending) {
    extended_copy_ = ExtendedCopy::none;  // the server answers this one
    return FrameRole::copy_data;
  }
  if (type == frontend::kFlush && extended_copy_ == ExtendedCopy::ending) {
    return FrameRole::copy_data;
  }
  extended_copy_ = ExtendedCopy::none;  // no copy-in happened (the COPY failed), or it is over
  return std::nullopt;
}

FrameRole UnitBuilder::add(const protocol::Frame& frame) {
  replacement_.reset();
  last_classification_.reset();
  if (extended_copy_ != ExtendedCopy::none) {
    if (auto role = extended_copy_role(static_cast<char>(frame.type))) return *role;
  }
  protocol::MessageReader reader(frame.payload);
  switch (frame.type) {
    case frontend::kQuery:
      return add_query(reader);
    case frontend::kParse:
      return add_parse(reader, frame);
    case frontend::kBind:
      return add_bind(reader);
    case frontend::kExecute:
      return add_execute(reader);
    case frontend::kClose:
      return add_close(reader);
    case frontend::kSync:
      // The unnamed portal does not survive the end of the transaction; named
      // ones are dropped at COMMIT by the server, which we tolerate here.
      if (unit_copies_in(facts_)) extended_copy_ = ExtendedCopy::may_start;
      return FrameRole::terminator;
    case frontend::kFunctionCall:
      facts_.has_function_call = true;
      return FrameRole::terminator;
    case frontend::kCopyData:
    case frontend::kCopyDone:
    case frontend::kCopyFail:
      return FrameRole::copy_data;
    case frontend::kTerminate:
      return FrameRole::terminate;
    default:  // Describe, Flush
      return FrameRole::part;
  }
}

}  // namespace pgdual::routing
