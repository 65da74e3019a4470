// Tests of routing/unit_builder.hpp: how a client's frontend messages are
// grouped into units (a simple Query, an extended batch up to Sync, a
// FunctionCall; COPY data belongs to the unit dispatched last; Terminate),
// which statements each unit executes, the prepared-statement and portal
// names it follows (Parse, Bind, Close), the session state a late secondary
// connection must replay, and the DDL replacement of set_reject_ddl.
// Frames are built with protocol/messages.hpp and split by decode_frame,
// exactly as the session hands them over.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "protocol/frame_decoder.hpp"
#include "protocol/messages.hpp"
#include "routing/classify/classification_cache.hpp"
#include "routing/rewrite/policy_error.hpp"
#include "routing/unit_builder.hpp"

using namespace pgdual;
using namespace pgdual::routing;

namespace {

constexpr std::size_t kMaxMessage = 1 << 20;

// The frames of `bytes`, in order; `bytes` must outlive them.
std::vector<protocol::Frame> frames_of(const std::string& bytes) {
  std::vector<protocol::Frame> frames;
  std::span<const std::uint8_t> rest(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                     bytes.size());
  while (!rest.empty()) {
    auto result = protocol::decode_frame(rest, false, kMaxMessage, true);
    REQUIRE(result.status == protocol::DecodeStatus::ready);
    frames.push_back(result.frame);
    rest = rest.subspan(result.frame.size);
  }
  return frames;
}

// Feeds every frame of `bytes` to the builder and returns the roles it gave them.
std::vector<FrameRole> feed(UnitBuilder& builder, const std::string& bytes) {
  std::vector<FrameRole> roles;
  for (const auto& frame : frames_of(bytes)) roles.push_back(builder.add(frame));
  return roles;
}

FrameRole feed_one(UnitBuilder& builder, const std::string& bytes) {
  const auto roles = feed(builder, bytes);
  REQUIRE(roles.size() == 1);
  return roles.front();
}

std::string query(std::string_view sql) { return protocol::query_message(sql); }

std::string parse(std::string_view name, std::string_view sql) {
  std::string out;
  protocol::append_parse(out, name, sql, {});
  return out;
}

std::string bind(std::string_view portal, std::string_view statement) {
  std::string out;
  protocol::append_bind(out, portal, statement, {}, {}, {});
  return out;
}

std::string execute(std::string_view portal) {
  std::string out;
  protocol::append_execute(out, portal, 0);
  return out;
}

std::string describe(char target, std::string_view name) {
  std::string out;
  protocol::append_describe(out, target, name);
  return out;
}

std::string close_message(char target, std::string_view name) {
  std::string out;
  protocol::append_close(out, target, name);
  return out;
}

std::string sync_message() {
  std::string out;
  protocol::append_sync(out);
  return out;
}

std::string flush_message() {
  std::string out;
  protocol::append_flush(out);
  return out;
}

std::string terminate_message() {
  std::string out;
  protocol::append_terminate(out);
  return out;
}

// FunctionCall (fastpath): function oid, no argument formats, no arguments, text result.
std::string function_call(std::int32_t oid) {
  std::string out;
  protocol::MessageWriter writer(out, protocol::frontend::kFunctionCall);
  writer.int32(oid).int16(0).int16(0).int16(0);
  writer.finish();
  return out;
}

// A message whose type is known but whose body is cut short (no terminating NUL).
std::string truncated(char type, std::string_view body) {
  std::string out;
  protocol::MessageWriter writer(out, type);
  writer.bytes(body);
  writer.finish();
  return out;
}

std::vector<StatementKind> kinds(const UnitFacts& facts) {
  std::vector<StatementKind> out;
  for (const auto* statement : facts.statements) out.push_back(statement->kind);
  return out;
}

std::vector<std::string> commands(const UnitFacts& facts) {
  std::vector<std::string> out;
  for (const auto* statement : facts.statements) out.push_back(statement->command);
  return out;
}

struct Fixture {
  ClassificationCache cache;
  ClassifierOptions options;
  UnitBuilder builder{cache, options};
};

// What session_state_replay() holds, one entry per message: the type and, for Parse and
// Query, the statement name and text.
struct Replayed {
  char type;
  std::string name;
  std::string sql;
  bool operator==(const Replayed&) const = default;
};

std::vector<Replayed> replayed(const std::string& bytes) {
  std::vector<Replayed> out;
  for (const auto& frame : frames_of(bytes)) {
    Replayed entry{frame.type, {}, {}};
    if (frame.type == protocol::frontend::kParse) {
      auto message = protocol::parse_parse(frame.payload);
      REQUIRE(message);
      entry.name = std::string(message->name);
      entry.sql = std::string(message->sql);
    } else if (frame.type == protocol::frontend::kQuery) {
      auto sql = protocol::parse_query(frame.payload);
      REQUIRE(sql);
      entry.sql = std::string(*sql);
    }
    out.push_back(entry);
  }
  return out;
}

}  // namespace

TEST_CASE("unit builder: a simple Query is a unit of its own") {
  Fixture f;
  CHECK(feed_one(f.builder, query("INSERT INTO t VALUES (1)")) == FrameRole::terminator);
  CHECK(kinds(f.builder.facts()) == std::vector{StatementKind::write});
  CHECK(commands(f.builder.facts()) == std::vector<std::string>{"INSERT"});
  CHECK_FALSE(f.builder.facts().parse_failed);
  CHECK_FALSE(f.builder.facts().changes_statement_state);
  CHECK_FALSE(f.builder.facts().has_function_call);
  CHECK(f.builder.first_text() == "INSERT INTO t VALUES (1)");
  REQUIRE(f.builder.last_classification());
  CHECK(f.builder.last_classification()->statements.size() == 1);
  CHECK_FALSE(f.builder.replacement());
}

TEST_CASE("unit builder: a multi-statement Query carries every statement, in order") {
  Fixture f;
  CHECK(feed_one(f.builder, query("BEGIN; UPDATE t SET v = 1; SELECT 1; COMMIT")) ==
        FrameRole::terminator);
  CHECK(kinds(f.builder.facts()) == std::vector{StatementKind::transaction, StatementKind::write,
                                                StatementKind::read, StatementKind::transaction});
}

TEST_CASE("unit builder: literal keys of statements that differ only in values are equal") {
  Fixture f;
  feed_one(f.builder, query("SELECT * FROM t WHERE id = 1"));
  const std::string first_key = f.builder.last_key();
  f.builder.reset();
  feed_one(f.builder, query("SELECT * FROM t WHERE id = 2"));
  CHECK(f.builder.last_key() == first_key);
  f.builder.reset();
  feed_one(f.builder, query("SELECT * FROM u WHERE id = 2"));
  CHECK(f.builder.last_key() != first_key);
}

TEST_CASE("unit builder: reset() starts a new unit") {
  Fixture f;
  feed_one(f.builder, query("INSERT INTO t VALUES (1)"));
  f.builder.reset();
  CHECK(f.builder.facts().statements.empty());
  CHECK(f.builder.first_text().empty());
  feed_one(f.builder, query("DELETE FROM t"));
  CHECK(commands(f.builder.facts()) == std::vector<std::string>{"DELETE"});
  CHECK(f.builder.first_text() == "DELETE FROM t");
}

TEST_CASE("unit builder: without reset() the units accumulate and first_text stays the first") {
  Fixture f;
  feed_one(f.builder, query("INSERT INTO t VALUES (1)"));
  feed_one(f.builder, query("DELETE FROM t"));
  CHECK(commands(f.builder.facts()) == std::vector<std::string>{"INSERT", "DELETE"});
  CHECK(f.builder.first_text() == "INSERT INTO t VALUES (1)");
}

TEST_CASE("unit builder: an extended batch is one unit up to Sync") {
  Fixture f;
  const std::string batch = parse("", "UPDATE t SET v = $1 WHERE id = $2") + bind("", "") +
                            describe('P', "") + execute("") + sync_message();
  const auto roles = feed(f.builder, batch);
  CHECK(roles == std::vector{FrameRole::part, FrameRole::part, FrameRole::part, FrameRole::part,
                             FrameRole::terminator});
  // The statement counts once, when it is executed (not when it is parsed).
  CHECK(commands(f.builder.facts()) == std::vector<std::string>{"UPDATE"});
  CHECK(f.builder.first_text() == "UPDATE t SET v = $1 WHERE id = $2");
  // An unnamed statement is no lasting session state.
  CHECK_FALSE(f.builder.facts().changes_statement_state);
}

TEST_CASE("unit builder: Parse alone executes nothing, each Execute adds its statement") {
  Fixture f;
  CHECK(feed_one(f.builder, parse("ins", "INSERT INTO t VALUES ($1)")) == FrameRole::part);
  CHECK(f.builder.facts().statements.empty());
  REQUIRE(f.builder.last_classification());
  CHECK(f.builder.last_classification()->statements.front().kind == StatementKind::write);
  feed(f.builder, bind("a", "ins") + execute("a") + bind("b", "ins") + execute("b") + execute("a"));
  CHECK(commands(f.builder.facts()) == std::vector<std::string>{"INSERT", "INSERT", "INSERT"});
  // Bind and Execute classify nothing themselves.
  CHECK_FALSE(f.builder.last_classification());
}

TEST_CASE("unit builder: Flush and Describe do not end the unit") {
  Fixture f;
  CHECK(feed(f.builder, parse("", "SELECT 1") + describe('S', "") + flush_message()) ==
        std::vector{FrameRole::part, FrameRole::part, FrameRole::part});
  CHECK(feed(f.builder, bind("", "") + execute("") + flush_message()) ==
        std::vector{FrameRole::part, FrameRole::part, FrameRole::part});
  CHECK(commands(f.builder.facts()) == std::vector<std::string>{"SELECT"});
  CHECK(feed_one(f.builder, sync_message()) == FrameRole::terminator);
  CHECK(commands(f.builder.facts()) == std::vector<std::string>{"SELECT"});
}

TEST_CASE("unit builder: a FunctionCall is a unit of its own") {
  Fixture f;
  CHECK(feed_one(f.builder, function_call(1598)) == FrameRole::terminator);
  CHECK(f.builder.facts().has_function_call);
  CHECK(f.builder.facts().statements.empty());
  f.builder.reset();
  CHECK_FALSE(f.builder.facts().has_function_call);
}

TEST_CASE("unit builder: COPY data belongs to the unit dispatched last") {
  Fixture f;
  CHECK(feed_one(f.builder, query("COPY t FROM STDIN")) == FrameRole::terminator);
  std::string data;
  protocol::append_copy_data(data, "1\tone\n");
  protocol::append_copy_data(data, "2\ttwo\n");
  protocol::append_copy_done(data);
  CHECK(feed(f.builder, data) ==
        std::vector{FrameRole::copy_data, FrameRole::copy_data, FrameRole::copy_data});
  std::string fail;
  protocol::append_copy_fail(fail, "client gave up");
  CHECK(feed_one(f.builder, fail) == FrameRole::copy_data);
  // The COPY's facts are untouched by its data: still one COPY statement.
  CHECK(commands(f.builder.facts()) == std::vector<std::string>{"COPY"});
  CHECK(kinds(f.builder.facts()) == std::vector{StatementKind::write});
  CHECK(f.builder.first_text() == "COPY t FROM STDIN");
}

TEST_CASE("unit builder: an extended-protocol COPY is one unit up to the Sync after CopyDone") {
  // libpq: Parse, Bind, Describe, Execute, Sync, the data, CopyDone, Sync. The server ignores
  // the Syncs and Flushes while it copies in and answers one ReadyForQuery, after the last.
  Fixture f;
  const std::string batch = parse("", "COPY t FROM STDIN") + bind("", "") + describe('P', "") +
                            execute("") + sync_message();
  CHECK(feed(f.builder, batch) == std::vector{FrameRole::part, FrameRole::part, FrameRole::part,
                                              FrameRole::part, FrameRole::terminator});
  f.builder.reset();
  std::string data;
  protocol::append_copy_data(data, "1\tone\n");
  const std::string during = data + flush_message() + sync_message() + data;
  CHECK(feed(f.builder, during) == std::vector{FrameRole::copy_data, FrameRole::copy_data,
                                               FrameRole::copy_data, FrameRole::copy_data});
  std::string done;
  protocol::append_copy_done(done);
  CHECK(feed(f.builder, done + sync_message()) ==
        std::vector{FrameRole::copy_data, FrameRole::copy_data});
  // The COPY is over: the next Sync ends a unit of its own again.
  CHECK(feed(f.builder, query("SELECT 1")) == std::vector{FrameRole::terminator});
  f.builder.reset();
  CHECK(feed(f.builder, sync_message()) == std::vector{FrameRole::terminator});
}

TEST_CASE("unit builder: an extended COPY that never started copying leaves Syncs alone") {
  // The COPY failed at Execute (no such table): the client sends no data, and its next Sync is
  // a unit of its own.
  Fixture f;
  const std::string batch =
      parse("", "COPY missing FROM STDIN") + bind("", "") + execute("") + sync_message();
  CHECK(feed(f.builder, batch).back() == FrameRole::terminator);
  f.builder.reset();
  CHECK(feed(f.builder, parse("", "SELECT 1") + bind("", "") + execute("") + sync_message()) ==
        std::vector{FrameRole::part, FrameRole::part, FrameRole::part, FrameRole::terminator});
}

TEST_CASE("unit builder: Terminate means the client is leaving") {
  Fixture f;
  CHECK(feed_one(f.builder, terminate_message()) == FrameRole::terminate);
  CHECK(f.builder.facts().statements.empty());
}

TEST_CASE("unit builder: a named Parse or a Close changes statement state") {
  Fixture f;
  feed_one(f.builder, parse("s1", "SELECT 1"));
  CHECK(f.builder.facts().changes_statement_state);
  f.builder.reset();
  CHECK_FALSE(f.builder.facts().changes_statement_state);
  feed_one(f.builder, close_message('P', "p"));
  CHECK(f.builder.facts().changes_statement_state);
  f.builder.reset();
  feed_one(f.builder, close_message('S', "s1"));
  CHECK(f.builder.facts().changes_statement_state);
}

TEST_CASE("unit builder: named statements and portals outlive the unit that made them") {
  Fixture f;
  // Inside a transaction block, where a named portal survives Sync on the server too.
  feed_one(f.builder, query("BEGIN"));
  f.builder.reset();
  feed(f.builder, parse("upd", "UPDATE t SET v = $1") + sync_message());
  f.builder.reset();
  feed(f.builder, bind("p", "upd") + sync_message());
  f.builder.reset();
  // A later unit executes the portal bound two units ago.
  feed(f.builder, execute("p") + sync_message());
  CHECK(commands(f.builder.facts()) == std::vector<std::string>{"UPDATE"});
  CHECK_FALSE(f.builder.facts().parse_failed);
}

TEST_CASE("unit builder: a re-Parse of the unnamed statement replaces it") {
  Fixture f;
  feed(f.builder, parse("", "SELECT 1") + bind("", "") + execute("") + sync_message());
  CHECK(kinds(f.builder.facts()) == std::vector{StatementKind::read});
  f.builder.reset();
  feed(f.builder, parse("", "DELETE FROM t") + bind("", "") + execute("") + sync_message());
  CHECK(kinds(f.builder.facts()) == std::vector{StatementKind::write});
}

TEST_CASE("unit builder: Execute of a portal never bound makes the unit unknown") {
  Fixture f;
  feed(f.builder, execute("nowhere") + sync_message());
  CHECK(f.builder.facts().parse_failed);
  CHECK(f.builder.facts().statements.empty());
}

TEST_CASE("unit builder: Bind to an unknown statement forgets the portal's old statement") {
  Fixture f;
  feed(f.builder,
       parse("s", "INSERT INTO t VALUES (1)") + bind("p", "s") + execute("p") + sync_message());
  CHECK_FALSE(f.builder.facts().parse_failed);
  f.builder.reset();
  // Rebinding "p" to a statement pgdual never saw: "p" must not still mean the INSERT.
  feed(f.builder, bind("p", "unknown") + execute("p") + sync_message());
  CHECK(f.builder.facts().parse_failed);
  CHECK(f.builder.facts().statements.empty());
}

TEST_CASE("unit builder: Close of a statement or a portal forgets it") {
  Fixture f;
  feed_one(f.builder, query("BEGIN"));
  f.builder.reset();
  feed(f.builder, parse("s", "INSERT INTO t VALUES (1)") + bind("p", "s") + sync_message());
  f.builder.reset();
  feed(f.builder, close_message('S', "s") + sync_message());
  f.builder.reset();
  // (The server also closes the portals made from a closed statement; the builder keeps "p",
  // which only matters for a portal the server will refuse to run anyway: not asserted here.)
  // The statement itself is gone: a new Bind of it yields an unknown portal.
  feed(f.builder, bind("q", "s") + execute("q") + sync_message());
  CHECK(f.builder.facts().parse_failed);
  CHECK(f.builder.facts().statements.empty());
  f.builder.reset();
  // A portal closed by name is gone.
  feed(f.builder, parse("s2", "DELETE FROM t") + bind("p2", "s2") + execute("p2") + sync_message());
  CHECK_FALSE(f.builder.facts().parse_failed);
  f.builder.reset();
  feed(f.builder, close_message('P', "p2") + execute("p2") + sync_message());
  CHECK(f.builder.facts().parse_failed);
  CHECK(f.builder.facts().statements.empty());
  f.builder.reset();
  // ...and its statement is not: binding it again works.
  feed(f.builder, bind("p3", "s2") + execute("p3") + sync_message());
  CHECK_FALSE(f.builder.facts().parse_failed);
  CHECK(commands(f.builder.facts()) == std::vector<std::string>{"DELETE"});
}

TEST_CASE("unit builder: text the parser rejects marks the unit") {
  Fixture f;
  CHECK(feed_one(f.builder, query("SELEC 1 FROM")) == FrameRole::terminator);
  CHECK(f.builder.facts().parse_failed);
  f.builder.reset();
  feed(f.builder, parse("", "UPDAT t") + bind("", "") + execute("") + sync_message());
  CHECK(f.builder.facts().parse_failed);
}

TEST_CASE("unit builder: malformed messages mark the unit and keep the role of their type") {
  Fixture f;
  // A Query without its terminating NUL still ends the unit (the server rejects it).
  CHECK(feed_one(f.builder, truncated(protocol::frontend::kQuery, "SELECT 1")) ==
        FrameRole::terminator);
  CHECK(f.builder.facts().parse_failed);
  CHECK(f.builder.facts().statements.empty());
  f.builder.reset();
  CHECK(feed_one(f.builder, truncated(protocol::frontend::kParse, "name-without-nul")) ==
        FrameRole::part);
  CHECK(f.builder.facts().parse_failed);
  f.builder.reset();
  // Malformed Bind, Execute and Close are parts that change nothing.
  CHECK(feed_one(f.builder, truncated(protocol::frontend::kBind, "p")) == FrameRole::part);
  CHECK(feed_one(f.builder, truncated(protocol::frontend::kExecute, "p")) == FrameRole::part);
  CHECK(feed_one(f.builder, truncated(protocol::frontend::kClose, "")) == FrameRole::part);
  CHECK_FALSE(f.builder.facts().changes_statement_state);
  CHECK_FALSE(f.builder.facts().parse_failed);
}

TEST_CASE("unit builder: session_state_replay is empty for a fresh session") {
  Fixture f;
  CHECK(f.builder.session_state_replay().empty());
  // Unnamed statements and reads leave nothing to replay.
  feed(f.builder, parse("", "SELECT 1") + bind("", "") + execute("") + sync_message());
  feed_one(f.builder, query("SELECT 2"));
  CHECK(f.builder.session_state_replay().empty());
}

TEST_CASE("unit builder: session_state_replay prepares the named statements, then Sync") {
  Fixture f;
  feed(f.builder,
       parse("b_stmt", "UPDATE t SET v = $1") + parse("a_stmt", "SELECT $1::int") + sync_message());
  const auto replay = replayed(f.builder.session_state_replay());
  REQUIRE(replay.size() == 3);
  // Ordered by name, then one Sync so the server answers them.
  CHECK(replay[0] == Replayed{protocol::frontend::kParse, "a_stmt", "SELECT $1::int"});
  CHECK(replay[1] == Replayed{protocol::frontend::kParse, "b_stmt", "UPDATE t SET v = $1"});
  CHECK(replay[2].type == protocol::frontend::kSync);
  // Byte-exact: the Parse messages are the ones the client sent.
  CHECK(f.builder.session_state_replay() == parse("a_stmt", "SELECT $1::int") +
                                                parse("b_stmt", "UPDATE t SET v = $1") +
                                                sync_message());
}

TEST_CASE("unit builder: a re-Parse of a name replays the newest text, Close drops it") {
  Fixture f;
  feed(f.builder, parse("s", "SELECT 1") + sync_message());
  feed(f.builder, close_message('S', "s") + parse("s", "SELECT 2") + sync_message());
  CHECK(f.builder.session_state_replay() == parse("s", "SELECT 2") + sync_message());
  feed(f.builder, close_message('S', "s") + sync_message());
  CHECK(f.builder.session_state_replay().empty());
  // Closing a portal of the same name leaves the statement alone.
  feed(f.builder, parse("s", "SELECT 3") + close_message('P', "s") + sync_message());
  CHECK(f.builder.session_state_replay() == parse("s", "SELECT 3") + sync_message());
}

TEST_CASE("unit builder: remember_named_parse replays the rewritten Parse instead") {
  Fixture f;
  feed(f.builder, parse("ins", "INSERT INTO t VALUES (now())") + sync_message());
  const std::string rewritten = parse("ins", "INSERT INTO t VALUES ($1)");
  f.builder.remember_named_parse("ins", rewritten);
  CHECK(f.builder.session_state_replay() == rewritten + sync_message());
}

TEST_CASE("unit builder: session_state_replay repeats the session's SETs, the latest per name") {
  Fixture f;
  feed_one(f.builder, query("SET search_path = app, public"));
  feed_one(f.builder, query("SET statement_timeout = '5s'"));
  feed_one(f.builder, query("SET search_path = other"));
  auto replay = replayed(f.builder.session_state_replay());
  REQUIRE(replay.size() == 2);
  CHECK(replay[0] == Replayed{protocol::frontend::kQuery, "", "SET search_path = other"});
  CHECK(replay[1] == Replayed{protocol::frontend::kQuery, "", "SET statement_timeout = '5s'"});
  // No named statements: no Sync (each Query answers for itself).
  feed_one(f.builder, query("RESET statement_timeout"));
  replay = replayed(f.builder.session_state_replay());
  REQUIRE(replay.size() == 1);
  CHECK(replay[0].sql == "SET search_path = other");
}

TEST_CASE("unit builder: SET LOCAL and SETs inside a multi-statement Query are not replayed") {
  Fixture f;
  feed_one(f.builder, query("SET LOCAL search_path = tx_only"));
  feed_one(f.builder, query("SET search_path = a; SET work_mem = '64MB'"));
  CHECK(f.builder.session_state_replay().empty());
}

TEST_CASE("unit builder: the replay holds statements first, then SETs, then one Sync") {
  Fixture f;
  feed_one(f.builder, query("SET search_path = app"));
  feed(f.builder, parse("s", "SELECT 1") + sync_message());
  const auto replay = replayed(f.builder.session_state_replay());
  REQUIRE(replay.size() == 3);
  CHECK(replay[0] == Replayed{protocol::frontend::kParse, "s", "SELECT 1"});
  CHECK(replay[1] == Replayed{protocol::frontend::kQuery, "", "SET search_path = app"});
  CHECK(replay[2].type == protocol::frontend::kSync);
}

TEST_CASE("unit builder: with reject_ddl a DDL Query is replaced by the policy error") {
  Fixture f;
  f.builder.set_reject_ddl(true, "DDL is frozen during the migration");
  CHECK(feed_one(f.builder, query("CREATE TABLE x (a int)")) == FrameRole::terminator);
  REQUIRE(f.builder.replacement());
  CHECK(*f.builder.replacement() ==
        query(policy_error_statement("DDL is frozen during the migration")));
  // The unit still describes what the client sent.
  CHECK(kinds(f.builder.facts()) == std::vector{StatementKind::ddl});
  f.builder.reset();
  // A statement that is not DDL goes as sent; the replacement of the last frame is cleared.
  feed_one(f.builder, query("INSERT INTO t VALUES (1)"));
  CHECK_FALSE(f.builder.replacement());
  f.builder.reset();
  // DDL anywhere in a multi-statement Query replaces the whole message.
  feed_one(f.builder, query("INSERT INTO t VALUES (1); DROP TABLE t"));
  CHECK(f.builder.replacement());
}

TEST_CASE("unit builder: with reject_ddl a DDL Parse keeps its name in the replacement") {
  Fixture f;
  f.builder.set_reject_ddl(true, "no DDL");
  CHECK(feed_one(f.builder, parse("mk", "ALTER TABLE t ADD COLUMN c int")) == FrameRole::part);
  REQUIRE(f.builder.replacement());
  CHECK(*f.builder.replacement() == parse("mk", policy_error_statement("no DDL")));
  // The next frame (here Sync) clears it.
  feed_one(f.builder, sync_message());
  CHECK_FALSE(f.builder.replacement());
}

TEST_CASE("unit builder: without reject_ddl, or after turning it off, DDL goes as sent") {
  Fixture f;
  feed_one(f.builder, query("CREATE TABLE x (a int)"));
  CHECK_FALSE(f.builder.replacement());
  f.builder.set_reject_ddl(true, "no DDL");
  feed_one(f.builder, query("CREATE TABLE y (a int)"));
  CHECK(f.builder.replacement());
  f.builder.set_reject_ddl(false, "");
  feed_one(f.builder, query("CREATE TABLE z (a int)"));
  CHECK_FALSE(f.builder.replacement());
}

TEST_CASE("unit builder: set_options changes how later statements are classified") {
  ClassificationCache cache;
  ClassifierOptions plain;
  ClassifierOptions with_write_function;
  with_write_function.write_functions = {"bump_counter"};
  UnitBuilder builder(cache, plain);
  feed_one(builder, query("SELECT bump_counter()"));
  REQUIRE(builder.facts().statements.size() == 1);
  CHECK_FALSE(builder.facts().statements.front()->calls_write_function);
  builder.reset();
  // The cache does not key on the options: a reload clears it (classification_cache.hpp).
  builder.set_options(with_write_function);
  cache.clear();
  feed_one(builder, query("SELECT bump_counter()"));
  REQUIRE(builder.facts().statements.size() == 1);
  CHECK(builder.facts().statements.front()->calls_write_function);
}

TEST_CASE("unit builder: the facts stay valid while the cache evicts their texts") {
  ClassificationCache cache(1);  // keeps one text: every new text evicts the last one
  ClassifierOptions options;
  UnitBuilder builder(cache, options);
  feed(builder, parse("", "INSERT INTO t VALUES (1)") + bind("", "") + execute(""));
  for (int i = 0; i < 5; ++i) feed_one(builder, query("SELECT * FROM other_" + std::to_string(i)));
  REQUIRE(builder.facts().statements.size() == 6);
  CHECK(builder.facts().statements.front()->kind == StatementKind::write);
  CHECK(builder.facts().statements.front()->command == "INSERT");
  CHECK(builder.facts().statements.back()->tables == std::vector<std::string>{"other_4"});
}
