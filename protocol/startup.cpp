#include "protocol/startup.hpp"

#include "protocol/message_reader.hpp"

namespace pgdual::protocol {
namespace {

constexpr std::string_view kProtocolOptionPrefix = "_pq_.";

constexpr std::string_view kProtocolViolation = "08P01";
constexpr std::string_view kFeatureNotSupported = "0A000";
constexpr std::string_view kInvalidAuthorizationSpecification = "28000";

std::optional<StartupPacket> fail(StartupError& error, std::string_view sqlstate,
                                  std::string message) {
  error.sqlstate = std::string(sqlstate);
  error.message = std::move(message);
  return std::nullopt;
}

// SSLRequest and GSSENCRequest are exactly the code; CancelRequest adds pid and secret key.
std::optional<StartupPacket> parse_fixed_request(std::int32_t code, MessageReader& reader,
                                                 StartupError& error) {
  StartupPacket packet;
  packet.protocol_version = code;
  if (code == kCancelRequestCode) {
    packet.kind = StartupKind::cancel_request;
    if (reader.remaining() != kCancelRequestLength - 8) {
      return fail(error, kProtocolViolation, "invalid length of cancel request packet");
    }
    packet.cancel_process_id = *reader.int32();
    packet.cancel_secret_key = *reader.int32();
    return packet;
  }
  const bool ssl = code == kSslRequestCode;
  packet.kind = ssl ? StartupKind::ssl_request : StartupKind::gssenc_request;
  if (!reader.at_end()) {
    return fail(
        error, kProtocolViolation,
        ssl ? "invalid length of SSL request packet" : "invalid length of GSSENC request packet");
  }
  return packet;
}

}  // namespace

std::optional<std::string> StartupPacket::parameter(std::string_view name) const {
  for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  return std::nullopt;
}

std::string StartupPacket::database() const {
  auto db = parameter("database");
  if (db && !db->empty()) return *db;
  return parameter("user").value_or(std::string());
}

std::vector<std::string> StartupPacket::protocol_options() const {
  std::vector<std::string> names;
  for (const auto& [name, value] : parameters) {
    if (name.starts_with(kProtocolOptionPrefix)) names.push_back(name);
  }
  return names;
}

bool StartupPacket::needs_negotiation() const {
  if (kind != StartupKind::startup) return false;
  if (protocol_minor() > 0) return true;
  for (const auto& parameter : parameters) {
    if (parameter.first.starts_with(kProtocolOptionPrefix)) return true;
  }
  return false;
}

std::optional<StartupPacket> parse_startup(std::span<const std::uint8_t> payload,
                                           StartupError& error) {
  MessageReader reader(payload);
  const auto code = reader.int32();
  if (!code) return fail(error, kProtocolViolation, "invalid length of startup packet");

  if (*code == kCancelRequestCode || *code == kSslRequestCode || *code == kGssEncRequestCode) {
    return parse_fixed_request(*code, reader, error);
  }

  // PostgreSQL accepts any minor version of the major versions it speaks and negotiates the
  // minor down; only the major is checked here (ProcessStartupPacket in postmaster.c).
  const int major = protocol_major(*code);
  if (major != protocol_major(kProtocolVersion3)) {
    return fail(error, kFeatureNotSupported,
                "unsupported frontend protocol " + std::to_string(major) + "." +
                    std::to_string(protocol_minor(*code)) + ": server supports 3.0 to 3.0");
  }

  StartupPacket packet;
  packet.protocol_version = *code;
  // name\0value\0 pairs, then a single \0 that must be the last byte.
  constexpr const char* kLayoutError =
      "invalid startup packet layout: expected terminator as last byte";
  while (true) {
    if (reader.at_end()) return fail(error, kProtocolViolation, kLayoutError);
    auto name = reader.cstring();
    if (!name) return fail(error, kProtocolViolation, kLayoutError);
    if (name->empty()) break;  // the terminator
    auto value = reader.cstring();
    if (!value) return fail(error, kProtocolViolation, kLayoutError);
    packet.parameters.emplace_back(std::string(*name), std::string(*value));
  }
  if (!reader.at_end()) return fail(error, kProtocolViolation, kLayoutError);

  auto user = packet.parameter("user");
  if (!user || user->empty()) {
    return fail(error, kInvalidAuthorizationSpecification,
                "no PostgreSQL user name specified in startup packet");
  }
  return packet;
}

std::optional<StartupPacket> parse_startup(std::span<const std::uint8_t> payload,
                                           std::string& error) {
  StartupError detailed;
  auto packet = parse_startup(payload, detailed);
  if (!packet) error = std::move(detailed.message);
  return packet;
}

}  // namespace pgdual::protocol
