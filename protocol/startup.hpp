#pragma once

// Parsing of the first packet a client sends: StartupMessage, SSLRequest, GSSENCRequest or
// CancelRequest ("Message Formats" in the PostgreSQL protocol documentation). These packets have
// no type byte; decode_frame(startup_phase = true) delimits them and hands the payload here.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/constants.hpp"

namespace pgdual::protocol {

enum class StartupKind { startup, ssl_request, gssenc_request, cancel_request };

struct StartupPacket {
  StartupKind kind = StartupKind::startup;
  std::int32_t protocol_version = 0;  // the request code for SSL/GSS/cancel packets
  std::vector<std::pair<std::string, std::string>> parameters;  // in order; "user", "database", ...
  std::int32_t cancel_process_id = 0, cancel_secret_key = 0;

  // The value of a startup parameter. When a client repeats a name the last one wins, as in
  // PostgreSQL.
  std::optional<std::string> parameter(std::string_view name) const;

  // The database the server will pick: "database", or the user name when absent or empty.
  std::string database() const;

  int protocol_major() const { return pgdual::protocol::protocol_major(protocol_version); }
  // A 3.x client with x > 0 is accepted; the caller answers with NegotiateProtocolVersion
  // offering 3.0, as PostgreSQL does.
  int protocol_minor() const { return pgdual::protocol::protocol_minor(protocol_version); }

  // Names of "_pq_." protocol extension options in the packet. PostgreSQL recognises none of them
  // and lists them in NegotiateProtocolVersion.
  std::vector<std::string> protocol_options() const;

  // True when the caller must send NegotiateProtocolVersion before authentication.
  bool needs_negotiation() const;
};

struct StartupError {
  std::string sqlstate;  // 08P01 protocol_violation, 0A000 feature_not_supported, 28000 no user
  std::string message;
};

// Parses a startup-phase payload (the bytes after the length word). Returns std::nullopt with
// `error` set on: unsupported protocol version ("unsupported frontend protocol 2.0: server
// supports 3.0 to 3.0", like PostgreSQL), missing terminator, missing "user", wrong length for
// SSL/GSS/cancel packets.
std::optional<StartupPacket> parse_startup(std::span<const std::uint8_t> payload,
                                           std::string& error);
// Same, also telling the SQLSTATE the ErrorResponse to the client should carry.
std::optional<StartupPacket> parse_startup(std::span<const std::uint8_t> payload,
                                           StartupError& error);

}  // namespace pgdual::protocol
