#pragma once

// SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it for SASL authentication.
// Reference: PostgreSQL documentation, "SASL Authentication" (sasl-authentication.html).
//
// PostgreSQL's profile of SCRAM:
// - The username in client-first-message is ignored (libpq sends "n=,"); the startup packet's user
//   is authoritative. We accept any n= value, empty or not.
// - No authorization identity ("a=") is supported.
// - Channel binding: we never advertise SCRAM-SHA-256-PLUS, so the gs2 flag must be "n" (client
//   does not support it) or "y" (client supports it but thinks the server does not). "p=..." is
//   rejected with an explicit error.
//
// Pure functions and small state machines over libcrypto: no I/O, no logging, no exceptions.
// Every failure on untrusted input comes back as nullopt/false plus a human-readable error.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pgdual::protocol::scram {

inline constexpr std::string_view kMechanism = "SCRAM-SHA-256";
inline constexpr std::size_t kKeyLength = 32;         // SHA-256 output size
inline constexpr int kDefaultIterations = 4096;       // PostgreSQL's scram_iterations default
inline constexpr std::size_t kNonceRandomBytes = 18;  // as libpq and the PostgreSQL server use
inline constexpr std::string_view kAuthenticationFailed = "password authentication failed";

// What a server needs to verify a client, without the password (PostgreSQL's pg_authid verifier).
struct Secret {
  std::string salt;  // raw bytes
  int iterations = kDefaultIterations;
  std::array<std::uint8_t, kKeyLength> stored_key{}, server_key{};
};

// SaltedPassword = PBKDF2-HMAC-SHA-256(normalize_password(password), raw_salt, iterations);
// StoredKey = SHA-256(HMAC(SaltedPassword, "Client Key")); ServerKey = HMAC(SaltedPassword,
// "Server Key"). Callers pass iterations > 0 and a non-empty salt (config validation's job). If
// libcrypto fails, the keys stay all-zero, which no client proof can match (fails closed).
Secret make_secret(std::string_view password, std::string_view raw_salt, int iterations);

// Parses PostgreSQL's stored form "SCRAM-SHA-256$<iter>:<b64salt>$<b64StoredKey>:<b64ServerKey>"
// (so users can put a pg_authid verifier in config instead of a password).
std::optional<Secret> parse_stored_secret(std::string_view text);
// The inverse of parse_stored_secret, in the exact form PostgreSQL stores.
std::string format_stored_secret(const Secret& secret);

// 18 random bytes from RAND_bytes, base64-encoded (24 printable characters). Returns an empty
// string if the CSPRNG fails; both exchanges refuse to run with an empty nonce.
std::string random_nonce();

// The password bytes that go into PBKDF2. PostgreSQL runs SASLprep (RFC 4013) over the password:
// - Pure ASCII passwords are used as-is (PostgreSQL's fast path); we do the same.
// - When SASLprep fails (invalid UTF-8, prohibited characters), PostgreSQL falls back to the raw
//   bytes; we always use the raw bytes for non-ASCII passwords.
// The two agree except for non-ASCII passwords that SASLprep would *change* without rejecting:
// ones with non-ASCII spaces (U+00A0...), "mapped to nothing" characters (soft hyphen, zero-width
// joiners) or text not already in NFKC form. Such passwords will not match a verifier PostgreSQL
// computed; full SASLprep needs Unicode tables we do not carry.
std::string normalize_password(std::string_view password);

// pgdual authenticating a client (pgdual plays the PostgreSQL server).
class ServerExchange {
 public:
  explicit ServerExchange(Secret secret, std::string server_nonce = random_nonce());

  // client-first-message -> server-first-message; nullopt + error on malformed input.
  std::optional<std::string> on_client_first(std::string_view message, std::string& error);
  // client-final-message -> server-final-message ("v=..."); nullopt if the proof is wrong
  // (error == kAuthenticationFailed) or the message is malformed.
  std::optional<std::string> on_client_final(std::string_view message, std::string& error);

  // True once on_client_final accepted the client's proof.
  bool authenticated() const { return state_ == State::kDone; }

 private:
  enum class State { kAwaitClientFirst, kAwaitClientFinal, kDone, kFailed };

  std::optional<std::string> fail(std::string& error, std::string_view reason);

  Secret secret_;
  std::string server_nonce_;
  State state_ = State::kAwaitClientFirst;
  std::string gs2_header_;         // e.g. "n,," as the client sent it
  std::string client_first_bare_;  // for AuthMessage
  std::string server_first_;       // for AuthMessage
  std::string combined_nonce_;     // client nonce + server nonce
};

// pgdual authenticating to a backend (pgdual plays libpq).
class ClientExchange {
 public:
  // username defaults to empty, as libpq sends; a non-empty one is only for other servers and for
  // the RFC test vectors. It is escaped as RFC 5802 saslname ("=" -> "=3D", "," -> "=2C").
  explicit ClientExchange(std::string password, std::string client_nonce = random_nonce(),
                          std::string username = {});

  std::string client_first();  // "n,,n=,r=<nonce>"
  // server-first-message -> client-final-message; nullopt + error on malformed input or a nonce
  // that does not extend ours.
  std::optional<std::string> on_server_first(std::string_view message, std::string& error);
  // Checks the v= ServerSignature (constant time); reports the server's e= error text.
  bool verify_server_final(std::string_view message, std::string& error);

 private:
  enum class State { kInitial, kAwaitServerFirst, kAwaitServerFinal, kDone, kFailed };

  std::string password_;
  std::string client_nonce_;
  std::string username_;
  State state_ = State::kInitial;
  std::string client_first_bare_;
  std::array<std::uint8_t, kKeyLength> expected_server_signature_{};
};

// Standard base64 (RFC 4648 alphabet, with padding). Decoding is strict: no whitespace, length a
// multiple of 4, padding only at the end, unused bits before the padding zero.
std::string base64_encode(std::span<const std::uint8_t> bytes);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace pgdual::protocol::scram
