// Tests of the message builders and parsers: every builder round-trips through decode_frame and
// its parser, malformed payloads are refused, and the MessageReader never reads past the end.

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/constants.hpp"
#include "protocol/frame_decoder.hpp"
#include "protocol/message_reader.hpp"
#include "protocol/messages.hpp"

using namespace pgdual::protocol;
using namespace std::string_literals;

namespace {

// Decodes exactly one regular message that fills `wire`; returns its type and payload.
struct One {
  char type = 0;
  std::span<const std::uint8_t> payload;
};

One one(const std::string& wire) {
  auto result = decode_frame(as_bytes(wire), false, 1 << 20);
  REQUIRE(result.status == DecodeStatus::ready);
  REQUIRE(result.frame.size == wire.size());
  return {result.frame.type, result.frame.payload};
}

std::string text(std::span<const std::uint8_t> bytes) { return std::string(as_string_view(bytes)); }

// Every strict prefix and the payload with a trailing byte must be refused by `parser`.
template <typename Parser>
void check_refuses_truncation_and_trailing(std::span<const std::uint8_t> payload, Parser parser) {
  for (std::size_t n = 0; n < payload.size(); ++n) {
    INFO("prefix " << n << " of " << payload.size());
    CHECK_FALSE(parser(payload.first(n)));
  }
  std::string longer = text(payload) + "x";
  CHECK_FALSE(parser(as_bytes(longer)));
}

}  // namespace

TEST_CASE("MessageReader reads network byte order and never past the end", "[messages]") {
  const std::string data = "\x01\x02\x03\x04\xff\xfe"s + "ab\0"s + "\x7f"s;
  MessageReader r(as_bytes(data));
  CHECK(r.int32() == 0x01020304);
  CHECK(r.int16() == -2);
  CHECK(r.remaining() == 4);
  CHECK(r.cstring() == "ab");
  CHECK_FALSE(r.int32());  // only 1 byte left: nothing consumed
  CHECK_FALSE(r.int16());
  CHECK_FALSE(r.bytes(2));
  CHECK_FALSE(r.cstring());  // no NUL
  CHECK(r.remaining() == 1);
  CHECK(r.byte() == 0x7f);
  CHECK(r.at_end());
  CHECK_FALSE(r.byte());
  CHECK(r.bytes(0));
  CHECK_FALSE(r.bytes(SIZE_MAX));

  const std::string minus_two = "\xff\xff\xff\xfe"s;
  MessageReader negative(as_bytes(minus_two));
  CHECK(negative.int32() == -2);
}

TEST_CASE("frontend builders round-trip through their parsers", "[messages]") {
  SECTION("Query") {
    std::string wire;
    append_query(wire, "SELECT 1; SELECT 2");
    auto m = one(wire);
    CHECK(m.type == 'Q');
    CHECK(parse_query(m.payload) == "SELECT 1; SELECT 2");
    check_refuses_truncation_and_trailing(m.payload, parse_query);
  }
  SECTION("Parse") {
    std::string wire;
    append_parse(wire, "stmt1", "INSERT INTO t VALUES ($1, $2)", {23, 0});
    auto m = one(wire);
    CHECK(m.type == 'P');
    auto parsed = parse_parse(m.payload);
    REQUIRE(parsed);
    CHECK(parsed->name == "stmt1");
    CHECK(parsed->sql == "INSERT INTO t VALUES ($1, $2)");
    CHECK(parsed->param_oids == std::vector<std::int32_t>{23, 0});
    check_refuses_truncation_and_trailing(m.payload, parse_parse);
  }
  SECTION("Bind with text, binary, empty and NULL values") {
    std::string wire;
    append_bind(wire, "portal", "stmt1", {0, 1, 1}, {"42"s, "\x00\x01"s, ""s, std::nullopt}, {1});
    auto m = one(wire);
    CHECK(m.type == 'B');
    auto parsed = parse_bind(m.payload);
    REQUIRE(parsed);
    CHECK(parsed->portal == "portal");
    CHECK(parsed->statement == "stmt1");
    CHECK(parsed->param_formats == std::vector<std::int16_t>{0, 1, 1});
    REQUIRE(parsed->params.size() == 4);
    CHECK(text(*parsed->params[0]) == "42");
    CHECK(text(*parsed->params[1]) == "\x00\x01"s);
    REQUIRE(parsed->params[2]);
    CHECK(parsed->params[2]->empty());
    CHECK_FALSE(parsed->params[3]);
    CHECK(parsed->result_formats == std::vector<std::int16_t>{1});
    check_refuses_truncation_and_trailing(m.payload, parse_bind);
  }
  SECTION("Describe and Close") {
    std::string wire;
    append_describe(wire, 'S', "stmt1");
    auto m = one(wire);
    CHECK(m.type == 'D');
    CHECK(parse_describe(m.payload) == std::pair<char, std::string_view>{'S', "stmt1"});
    check_refuses_truncation_and_trailing(m.payload, parse_describe);

    wire.clear();
    append_close(wire, 'P', "");
    m = one(wire);
    CHECK(m.type == 'C');
    CHECK(parse_close(m.payload) == std::pair<char, std::string_view>{'P', ""});
    check_refuses_truncation_and_trailing(m.payload, parse_close);

    const std::string bad_target = "Xname\0"s;
    CHECK_FALSE(parse_close(as_bytes(bad_target)));
    CHECK_FALSE(parse_describe(as_bytes(bad_target)));
  }
  SECTION("Execute") {
    std::string wire;
    append_execute(wire, "p1", 100);
    auto m = one(wire);
    CHECK(m.type == 'E');
    CHECK(parse_execute(m.payload) == std::pair<std::string_view, std::int32_t>{"p1", 100});
    check_refuses_truncation_and_trailing(m.payload, parse_execute);
  }
  SECTION("PasswordMessage") {
    std::string wire;
    append_password(wire, "md5abcdef");
    auto m = one(wire);
    CHECK(m.type == 'p');
    CHECK(parse_password(m.payload) == "md5abcdef");
  }
  SECTION("SASLInitialResponse and SASLResponse") {
    std::string wire;
    append_sasl_initial_response(wire, "SCRAM-SHA-256", "n,,n=,r=abc");
    auto m = one(wire);
    CHECK(m.type == 'p');
    auto parsed = parse_sasl_initial_response(m.payload);
    REQUIRE(parsed);
    CHECK(parsed->first == "SCRAM-SHA-256");
    CHECK(text(parsed->second) == "n,,n=,r=abc");
    check_refuses_truncation_and_trailing(m.payload, parse_sasl_initial_response);

    // Length -1: no initial response.
    const std::string none = "SCRAM-SHA-256\0\xff\xff\xff\xff"s;
    auto empty = parse_sasl_initial_response(as_bytes(none));
    REQUIRE(empty);
    CHECK(empty->second.empty());
    const std::string below = "M\0\xff\xff\xff\xfe"s;  // -2
    CHECK_FALSE(parse_sasl_initial_response(as_bytes(below)));

    wire.clear();
    append_sasl_response(wire, "c=biws,r=abc,p=xyz");
    m = one(wire);
    CHECK(m.type == 'p');
    CHECK(as_string_view(m.payload) == "c=biws,r=abc,p=xyz");
  }
  SECTION("simple messages") {
    std::string wire;
    append_sync(wire);
    append_flush(wire);
    append_terminate(wire);
    append_copy_done(wire);
    CHECK(wire ==
          "S\0\0\0\x04"
          "H\0\0\0\x04"
          "X\0\0\0\x04"
          "c\0\0\0\x04"s);
    wire.clear();
    append_copy_data(wire, "a\tb\n");
    CHECK(wire ==
          "d\0\0\0\x08"
          "a\tb\n"s);
    wire.clear();
    append_copy_fail(wire, "nope");
    CHECK(wire == "f\0\0\0\x09nope\0"s);
  }
  SECTION("StartupMessage bytes") {
    std::string wire;
    append_startup(wire, {{"user", "u"}});
    CHECK(wire == "\0\0\0\x10\0\x03\0\0user\0u\0\0"s);
  }
}

TEST_CASE("frontend parsers refuse malformed counts and lengths", "[messages]") {
  SECTION("negative Parse parameter count") {
    const std::string payload = "\0SELECT 1\0\xff\xff"s;
    CHECK_FALSE(parse_parse(as_bytes(payload)));
  }
  SECTION("Parse parameter count larger than the data") {
    const std::string payload = "\0SELECT 1\0\x7f\xff\0\0\0\x17"s;
    CHECK_FALSE(parse_parse(as_bytes(payload)));
  }
  SECTION("Bind value length below -1") {
    const std::string payload = "\0\0\0\0\0\x01\xff\xff\xff\xfe\0\0"s;
    CHECK_FALSE(parse_bind(as_bytes(payload)));
  }
  SECTION("Bind value longer than the message") {
    const std::string payload = "\0\0\0\0\0\x01\x00\x00\x10\x00\0\0"s;
    CHECK_FALSE(parse_bind(as_bytes(payload)));
  }
  SECTION("empty payloads") {
    const std::span<const std::uint8_t> empty;
    CHECK_FALSE(parse_query(empty));
    CHECK_FALSE(parse_parse(empty));
    CHECK_FALSE(parse_bind(empty));
    CHECK_FALSE(parse_execute(empty));
    CHECK_FALSE(parse_close(empty));
    CHECK_FALSE(parse_sasl_initial_response(empty));
    CHECK_FALSE(parse_error_fields(empty));
    CHECK_FALSE(parse_ready_for_query(empty));
    CHECK_FALSE(parse_authentication(empty));
    CHECK_FALSE(parse_row_description(empty));
    CHECK_FALSE(parse_data_row(empty));
    CHECK_FALSE(parse_backend_key_data(empty));
    CHECK_FALSE(parse_parameter_status(empty));
    CHECK_FALSE(parse_command_complete(empty));
  }
}

TEST_CASE("authentication requests round-trip", "[messages]") {
  std::string wire;
  SECTION("ok and cleartext") {
    append_authentication_ok(wire);
    CHECK(wire == "R\0\0\0\x08\0\0\0\0"s);
    auto request = parse_authentication(one(wire).payload);
    REQUIRE(request);
    CHECK(request->code == auth::kOk);
    CHECK(request->data.empty());
    wire.clear();
    append_authentication_cleartext(wire);
    CHECK(parse_authentication(one(wire).payload)->code == auth::kCleartextPassword);
  }
  SECTION("md5 with its salt") {
    append_authentication_md5(wire, {0xde, 0xad, 0xbe, 0xef});
    auto request = parse_authentication(one(wire).payload);
    REQUIRE(request);
    CHECK(request->code == auth::kMd5Password);
    CHECK(text(request->data) == "\xde\xad\xbe\xef");
    const std::string short_salt = "\0\0\0\x05\x01\x02"s;
    CHECK_FALSE(parse_authentication(as_bytes(short_salt)));
  }
  SECTION("SASL mechanisms, continue and final") {
    append_authentication_sasl(wire, {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"});
    auto request = parse_authentication(one(wire).payload);
    REQUIRE(request);
    CHECK(request->code == auth::kSasl);
    CHECK(parse_sasl_mechanisms(request->data) ==
          std::vector<std::string>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"});
    const std::string unterminated = "SCRAM-SHA-256\0"s;
    CHECK_FALSE(parse_sasl_mechanisms(as_bytes(unterminated)));

    wire.clear();
    append_authentication_sasl_continue(wire, "r=abc,s=salt,i=4096");
    request = parse_authentication(one(wire).payload);
    REQUIRE(request);
    CHECK(request->code == auth::kSaslContinue);
    CHECK(text(request->data) == "r=abc,s=salt,i=4096");

    wire.clear();
    append_authentication_sasl_final(wire, "v=signature");
    request = parse_authentication(one(wire).payload);
    REQUIRE(request);
    CHECK(request->code == auth::kSaslFinal);
    CHECK(text(request->data) == "v=signature");
  }
}

TEST_CASE("session-start backend messages round-trip", "[messages]") {
  std::string wire;
  SECTION("ParameterStatus") {
    append_parameter_status(wire, "server_version", "15.4");
    auto m = one(wire);
    CHECK(m.type == 'S');
    CHECK(parse_parameter_status(m.payload) ==
          std::pair<std::string, std::string>{"server_version", "15.4"});
    check_refuses_truncation_and_trailing(m.payload, parse_parameter_status);
  }
  SECTION("BackendKeyData") {
    append_backend_key_data(wire, 31337, -7);
    auto m = one(wire);
    CHECK(m.type == 'K');
    CHECK(parse_backend_key_data(m.payload) == std::pair<std::int32_t, std::int32_t>{31337, -7});
    check_refuses_truncation_and_trailing(m.payload, parse_backend_key_data);
  }
  SECTION("ReadyForQuery") {
    for (char status : {'I', 'T', 'E'}) {
      wire.clear();
      append_ready_for_query(wire, status);
      auto m = one(wire);
      CHECK(m.type == 'Z');
      CHECK(parse_ready_for_query(m.payload) == status);
    }
    const std::string bad = "X";
    CHECK_FALSE(parse_ready_for_query(as_bytes(bad)));
  }
  SECTION("NegotiateProtocolVersion carries the full version word") {
    append_negotiate_protocol_version(wire, 0, {"_pq_.a", "_pq_.b"});
    auto m = one(wire);
    CHECK(m.type == 'v');
    CHECK(text(m.payload).substr(0, 8) == "\0\x03\0\0\0\0\0\x02"s);
    auto parsed = parse_negotiate_protocol_version(m.payload);
    REQUIRE(parsed);
    CHECK(parsed->newest_version == kProtocolVersion3);
    CHECK(parsed->unrecognized_options == std::vector<std::string>{"_pq_.a", "_pq_.b"});
    check_refuses_truncation_and_trailing(m.payload, parse_negotiate_protocol_version);
  }
  SECTION("CommandComplete and simple backend messages") {
    append_command_complete(wire, "INSERT 0 5");
    auto m = one(wire);
    CHECK(m.type == 'C');
    CHECK(parse_command_complete(m.payload) == "INSERT 0 5");
    check_refuses_truncation_and_trailing(m.payload, parse_command_complete);
    wire.clear();
    append_empty_query_response(wire);
    append_parse_complete(wire);
    append_bind_complete(wire);
    append_close_complete(wire);
    append_no_data(wire);
    CHECK(wire ==
          "I\0\0\0\x04"
          "1\0\0\0\x04"
          "2\0\0\0\x04"
          "3\0\0\0\x04"
          "n\0\0\0\x04"s);
  }
}

TEST_CASE("error and notice fields round-trip", "[messages]") {
  SECTION("make_error writes S and V, C and M") {
    std::string wire;
    append_error_response(wire, make_error("42P01", "relation \"t\" does not exist"));
    CHECK(wire.substr(5) == "SERROR\0VERROR\0C42P01\0Mrelation \"t\" does not exist\0\0"s);
    auto parsed = parse_error_fields(one(wire).payload);
    REQUIRE(parsed);
    CHECK(parsed->severity == "ERROR");
    CHECK(parsed->sqlstate == "42P01");
    CHECK(parsed->message == "relation \"t\" does not exist");
    CHECK(parsed->other.empty());
  }
  SECTION("all fields survive a round trip") {
    ErrorFields fields = make_error("23505", "duplicate key", "ERROR");
    fields.detail = "Key (id)=(1) already exists.";
    fields.hint = "Use another id.";
    fields.other = {{'s', "public"},      {'t', "t"},   {'n', "t_pkey"},
                    {'F', "nbtinsert.c"}, {'L', "664"}, {'R', "_bt_check_unique"}};
    std::string wire;
    append_error_response(wire, fields);
    auto m = one(wire);
    CHECK(m.type == 'E');
    auto parsed = parse_error_fields(m.payload);
    REQUIRE(parsed);
    CHECK(parsed->severity == fields.severity);
    CHECK(parsed->sqlstate == fields.sqlstate);
    CHECK(parsed->message == fields.message);
    CHECK(parsed->detail == fields.detail);
    CHECK(parsed->hint == fields.hint);
    CHECK(parsed->other == fields.other);
    std::string again;
    append_error_response(again, *parsed);
    CHECK(again == wire);
    check_refuses_truncation_and_trailing(m.payload, parse_error_fields);
  }
  SECTION("a localized severity keeps its untranslated V") {
    const std::string payload = "SFEHLER\0VERROR\0C42601\0MSyntaxfehler\0\0"s;
    auto parsed = parse_error_fields(as_bytes(payload));
    REQUIRE(parsed);
    CHECK(parsed->severity == "FEHLER");
    CHECK(parsed->other == std::vector<std::pair<char, std::string>>{{'V', "ERROR"}});
    std::string wire;
    append_error_response(wire, *parsed);
    CHECK(wire.substr(5) == payload);
  }
  SECTION("a notice") {
    std::string wire;
    append_notice_response(wire, make_error("00000", "hello", "NOTICE"));
    auto m = one(wire);
    CHECK(m.type == 'N');
    auto parsed = parse_error_fields(m.payload);
    REQUIRE(parsed);
    CHECK(parsed->severity == "NOTICE");
    CHECK(parsed->message == "hello");
  }
  SECTION("unterminated field lists are refused") {
    const std::string no_end = "SERROR\0"s;
    CHECK_FALSE(parse_error_fields(as_bytes(no_end)));
    const std::string no_nul = "SERROR"s;
    CHECK_FALSE(parse_error_fields(as_bytes(no_nul)));
  }
}

TEST_CASE("RowDescription and DataRow round-trip", "[messages]") {
  std::vector<RowDescriptionField> fields = {
      {"id", 16384, 1, 23, 4, -1, 0},
      {"name", 16384, 2, 25, -1, -1, 0},
      {"?column?", 0, 0, 17, -1, -1, 1},
  };
  std::string wire;
  append_row_description(wire, fields);
  auto m = one(wire);
  CHECK(m.type == 'T');
  auto parsed = parse_row_description(m.payload);
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 3);
  for (std::size_t i = 0; i < fields.size(); ++i) {
    CHECK((*parsed)[i].name == fields[i].name);
    CHECK((*parsed)[i].table_oid == fields[i].table_oid);
    CHECK((*parsed)[i].column == fields[i].column);
    CHECK((*parsed)[i].type_oid == fields[i].type_oid);
    CHECK((*parsed)[i].type_size == fields[i].type_size);
    CHECK((*parsed)[i].type_mod == fields[i].type_mod);
    CHECK((*parsed)[i].format == fields[i].format);
  }
  check_refuses_truncation_and_trailing(m.payload, parse_row_description);

  wire.clear();
  append_data_row(wire, {"1"s, std::nullopt, ""s});
  m = one(wire);
  CHECK(m.type == 'D');
  auto row = parse_data_row(m.payload);
  REQUIRE(row);
  REQUIRE(row->size() == 3);
  CHECK(text(*(*row)[0]) == "1");
  CHECK_FALSE((*row)[1]);
  REQUIRE((*row)[2]);
  CHECK((*row)[2]->empty());
  check_refuses_truncation_and_trailing(m.payload, parse_data_row);

  const std::string zero_columns = "\0\0"s;
  CHECK(parse_data_row(as_bytes(zero_columns))->empty());
  const std::string negative_count = "\xff\xff"s;
  CHECK_FALSE(parse_data_row(as_bytes(negative_count)));
  CHECK_FALSE(parse_row_description(as_bytes(negative_count)));
}

TEST_CASE("row counts from command tags", "[messages]") {
  CHECK(rows_from_command_tag("INSERT 0 5") == 5u);
  CHECK(rows_from_command_tag("INSERT 16385 1") == 1u);
  CHECK(rows_from_command_tag("UPDATE 3") == 3u);
  CHECK(rows_from_command_tag("DELETE 0") == 0u);
  CHECK(rows_from_command_tag("SELECT 2") == 2u);
  CHECK(rows_from_command_tag("COPY 10") == 10u);
  CHECK(rows_from_command_tag("MERGE 1") == 1u);
  CHECK(rows_from_command_tag("FETCH 4") == 4u);
  CHECK(rows_from_command_tag("MOVE 7") == 7u);
  CHECK(rows_from_command_tag("SELECT 18446744073709551615") == UINT64_MAX);

  CHECK_FALSE(rows_from_command_tag("BEGIN"));
  CHECK_FALSE(rows_from_command_tag("COMMIT"));
  CHECK_FALSE(rows_from_command_tag("CREATE TABLE"));
  CHECK_FALSE(rows_from_command_tag("SET"));
  CHECK_FALSE(rows_from_command_tag(""));
  CHECK_FALSE(rows_from_command_tag("INSERT 5"));
  CHECK_FALSE(rows_from_command_tag("INSERT 0 "));
  CHECK_FALSE(rows_from_command_tag("UPDATE x"));
  CHECK_FALSE(rows_from_command_tag("UPDATE 3 4"));
  CHECK_FALSE(rows_from_command_tag("UPDATE -1"));
  CHECK_FALSE(rows_from_command_tag("SELECT 18446744073709551616"));
}

TEST_CASE("MessageWriter patches the length and cuts embedded NULs in strings", "[messages]") {
  std::string out = "prefix";
  {
    MessageWriter w(out, 'Q');
    w.cstring("a\0b"s);
  }
  CHECK(out ==
        "prefixQ\0\0\0\x06"
        "a\0"s);
}
