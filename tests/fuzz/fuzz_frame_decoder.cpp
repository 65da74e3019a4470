// libFuzzer target for the protocol layer: frames the input in both phases and runs every parser
// on every frame payload. Where a message has a single wire form, the parsed message is rebuilt
// with its builder and must reproduce the payload byte for byte; that catches parsers that accept
// what they misread, not only ones that crash.
//
// The protocol layer comes from pgdual_protocol, which the fuzz build instruments for coverage
// and the sanitizers (tests/CMakeLists.txt).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "protocol/frame_decoder.hpp"
#include "protocol/messages.hpp"
#include "protocol/startup.hpp"

namespace {

using namespace pgdual::protocol;

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (false)

constexpr std::size_t kMaxMessageSize = 1 << 16;

std::string_view payload_of(const std::string& wire) {
  return std::string_view(wire).substr(kMessageHeaderSize);
}

std::optional<std::string> to_string(const std::optional<std::span<const std::uint8_t>>& value) {
  if (!value) return std::nullopt;
  return std::string(as_string_view(*value));
}

void check_error_fields(std::span<const std::uint8_t> payload) {
  auto fields = parse_error_fields(payload);
  if (!fields) return;
  // Field order and duplicates are normalised by one pass; after that the round trip is exact.
  std::string first;
  append_error_response(first, *fields);
  auto again = parse_error_fields(as_bytes(payload_of(first)));
  FUZZ_CHECK(again);
  std::string second;
  append_error_response(second, *again);
  FUZZ_CHECK(first == second);
}

void check_frontend_parsers(std::span<const std::uint8_t> payload) {
  const std::string_view original = as_string_view(payload);
  if (auto sql = parse_query(payload)) {
    std::string wire;
    append_query(wire, *sql);
    FUZZ_CHECK(payload_of(wire) == original);
  }
  if (auto parse = parse_parse(payload)) {
    std::string wire;
    append_parse(wire, parse->name, parse->sql, parse->param_oids);
    FUZZ_CHECK(payload_of(wire) == original);
  }
  if (auto bind = parse_bind(payload)) {
    std::vector<std::optional<std::string>> params;
    for (const auto& param : bind->params) params.push_back(to_string(param));
    std::string wire;
    append_bind(wire, bind->portal, bind->statement, bind->param_formats, params,
                bind->result_formats);
    FUZZ_CHECK(payload_of(wire) == original);
  }
  if (auto close = parse_close(payload)) {
    std::string wire;
    append_close(wire, close->first, close->second);
    FUZZ_CHECK(payload_of(wire) == original);
  }
  if (auto describe = parse_describe(payload)) {
    std::string wire;
    append_describe(wire, describe->first, describe->second);
    FUZZ_CHECK(payload_of(wire) == original);
  }
  if (auto execute = parse_execute(payload)) {
    std::string wire;
    append_execute(wire, execute->first, execute->second);
    FUZZ_CHECK(payload_of(wire) == original);
  }
  if (auto sasl = parse_sasl_initial_response(payload)) {
    FUZZ_CHECK(sasl->second.size() <= payload.size());
  }
  (void)parse_password(payload);
}

void check_backend_parsers(std::span<const std::uint8_t> payload) {
  const std::string_view original = as_string_view(payload);
  check_error_fields(payload);
  if (auto status = parse_ready_for_query(payload)) {
    std::string wire;
    append_ready_for_query(wire, *status);
    FUZZ_CHECK(payload_of(wire) == original);
  }
  if (auto request = parse_authentication(payload)) {
    FUZZ_CHECK(request->data.size() + 4 == payload.size());
    if (request->code == auth::kSasl) {
      if (auto mechanisms = parse_sasl_mechanisms(request->data)) {
        std::string wire;
        append_authentication_sasl(wire, *mechanisms);
        FUZZ_CHECK(payload_of(wire) == original);
      }
    }
  }
  if (auto status = parse_parameter_status(payload)) {
    std::string wire;
    append_parameter_status(wire, status->first, status->second);
    FUZZ_CHECK(payload_of(wire) == original);
  }
  if (auto key = parse_backend_key_data(payload)) {
    std::string wire;
    append_backend_key_data(wire, key->first, key->second);
    FUZZ_CHECK(payload_of(wire) == original);
  }
  if (auto tag = parse_command_complete(payload)) {
    std::string wire;
    append_command_complete(wire, *tag);
    FUZZ_CHECK(payload_of(wire) == original);
    (void)rows_from_command_tag(*tag);
  }
  (void)parse_negotiate_protocol_version(payload);
  if (auto fields = parse_row_description(payload)) {
    std::string wire;
    append_row_description(wire, *fields);
    FUZZ_CHECK(payload_of(wire) == original);
  }
  if (auto row = parse_data_row(payload)) {
    std::vector<std::optional<std::string>> values;
    for (const auto& value : *row) values.push_back(to_string(value));
    std::string wire;
    append_data_row(wire, values);
    FUZZ_CHECK(payload_of(wire) == original);
  }
}

void check_startup(std::span<const std::uint8_t> payload) {
  StartupError error;
  auto packet = parse_startup(payload, error);
  FUZZ_CHECK(packet.has_value() == error.message.empty());
  if (!packet) return;
  (void)packet->needs_negotiation();
  (void)packet->database();
  if (packet->kind == StartupKind::startup && packet->protocol_version == kProtocolVersion3) {
    std::string wire;
    append_startup(wire, packet->parameters);
    FUZZ_CHECK(std::string_view(wire).substr(kLengthWordSize) == as_string_view(payload));
  }
}

// Decodes frames from the front of `input` until it needs more or fails; `startup_first` makes
// the first frame a startup-phase packet, as on a real client connection.
void run_stream(std::span<const std::uint8_t> input, bool startup_first, bool all_startup,
                bool check_type) {
  std::size_t offset = 0;
  bool startup = startup_first || all_startup;
  while (offset < input.size()) {
    const auto rest = input.subspan(offset);
    const auto result = decode_frame(rest, startup, kMaxMessageSize, check_type);
    if (result.status != DecodeStatus::ready) {
      FUZZ_CHECK(result.status == DecodeStatus::need_more || !result.error.empty());
      return;
    }
    const Frame& frame = result.frame;
    const std::size_t header = startup ? kLengthWordSize : kMessageHeaderSize;
    FUZZ_CHECK(frame.size >= header && frame.size <= rest.size());
    FUZZ_CHECK(frame.payload.data() == rest.data() + header);
    FUZZ_CHECK(frame.payload.size() + header == frame.size);
    if (startup) {
      FUZZ_CHECK(frame.type == 0);
      check_startup(frame.payload);
    } else {
      FUZZ_CHECK(!check_type || is_known_frontend_type(frame.type));
      check_frontend_parsers(frame.payload);
      check_backend_parsers(frame.payload);
    }
    offset += frame.size;
    startup = all_startup;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);
  run_stream(input, /*startup_first=*/false, /*all_startup=*/false, /*check_type=*/false);
  run_stream(input, false, false, true);
  run_stream(input, true, false, true);
  run_stream(input, false, true, false);
  return 0;
}
