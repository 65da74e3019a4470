#pragma once

// Parsers for the scalar formats the configuration uses. Pure functions on text; the loader adds
// the key path to their failures.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgdual::config {

struct HostPort {
  std::string host;  // without the brackets of an IPv6 literal
  std::uint16_t port = 0;
};

// "host:port", "[ipv6]:port". The port may be 0 (the caller decides whether that is allowed).
std::optional<HostPort> parse_host_port(std::string_view text);

// Plain decimal digits only (no sign, no spaces, no 0x), within uint64_t.
std::optional<std::uint64_t> parse_unsigned(std::string_view text);

// true/false, yes/no, on/off, any letter case.
std::optional<bool> parse_bool(std::string_view text);

// A byte count with an optional unit: B, kB, MB, GB (PostgreSQL's units, 1024-based; the
// spellings KB, KiB, MiB, GiB and any letter case are accepted too). "64MB", "64 MB", "65536".
std::optional<std::uint64_t> parse_byte_size(std::string_view text);

// SQL identifier rules for a possibly qualified name: unquoted parts are folded to lower case,
// "quoted" parts are kept as written ("" inside quotes is one quote). Returns the parts joined
// with '.', or nullopt when the text is not 1..max_parts valid identifiers.
std::optional<std::string> normalise_qualified_name(std::string_view text, int max_parts);

// "orders" -> "public.orders", "Sales.Orders" -> "sales.orders", "\"Sales\".x" -> "Sales.x".
std::optional<std::string> normalise_table_name(std::string_view text);

// PostgreSQL's stored SCRAM-SHA-256 verifier format:
// "SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>", with both
// keys 32 bytes long.
bool valid_scram_verifier(std::string_view text);

// A value quoted for an error message: control characters escaped, long text cut short.
// Never call it with a secret.
std::string quote_for_message(std::string_view text);

}  // namespace pgdual::config
