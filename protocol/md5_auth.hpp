#pragma once

// PostgreSQL "md5" password authentication (AuthenticationMD5Password, auth code 5).
// Reference: PostgreSQL documentation, "Password Authentication" and "Message Flow":
// the client answers with PasswordMessage carrying
//   "md5" + hex(md5(hex(md5(password + user)) + salt))
// where salt is the 4 random bytes of AuthenticationMD5Password. The inner hex(md5(password +
// user)) is exactly what pg_authid stores as "md5<32 hex>".
//
// Pure functions over libcrypto: no I/O, no exceptions.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pgdual::protocol {

// What a client sends for AuthenticationMD5Password. Returns an empty string only if libcrypto
// fails to compute MD5 (e.g. a FIPS-only provider); md5_verify then fails closed.
std::string md5_password_response(std::string_view user, std::string_view password,
                                  std::span<const std::uint8_t, 4> salt);

// Verify a client's response against a known cleartext password (constant-time compare).
bool md5_verify(std::string_view user, std::string_view password,
                std::span<const std::uint8_t, 4> salt, std::string_view client_response);

// The same two operations starting from a stored verifier "md5" + 32 lowercase hex digits (the
// pg_authid form, = "md5" + hex(md5(password + user))), so a config can hold the hash instead of
// the password. The response for a malformed stored hash is empty; verification fails.
std::string md5_response_from_stored(std::string_view stored_hash,
                                     std::span<const std::uint8_t, 4> salt);
bool md5_verify_stored(std::string_view stored_hash, std::span<const std::uint8_t, 4> salt,
                       std::string_view client_response);

}  // namespace pgdual::protocol
