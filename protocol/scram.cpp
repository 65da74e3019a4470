#include "protocol/scram.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <vector>

namespace pgdual::protocol::scram {
namespace {

using Key = std::array<std::uint8_t, kKeyLength>;

// ---- crypto primitives (each returns false if libcrypto fails) ----

bool hmac_sha256(std::span<const std::uint8_t> key, std::string_view data, Key& out) {
  unsigned int length = 0;
  const unsigned char* result =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &length);
  return result != nullptr && length == kKeyLength;
}

bool sha256(std::span<const std::uint8_t> data, Key& out) {
  unsigned int length = 0;
  return EVP_Digest(data.data(), data.size(), out.data(), &length, EVP_sha256(), nullptr) == 1 &&
         length == kKeyLength;
}

// SaltedPassword := Hi(Normalize(password), salt, i), Hi being PBKDF2 with HMAC-SHA-256.
bool salted_password(std::string_view password, std::string_view salt, int iterations, Key& out) {
  const std::string normalized = normalize_password(password);
  const int ok = PKCS5_PBKDF2_HMAC(normalized.data(), static_cast<int>(normalized.size()),
                                   reinterpret_cast<const unsigned char*>(salt.data()),
                                   static_cast<int>(salt.size()), iterations, EVP_sha256(),
                                   static_cast<int>(out.size()), out.data());
  return ok == 1;
}

// The keys RFC 5802 section 3 derives from SaltedPassword.
struct DerivedKeys {
  Key client_key{}, stored_key{}, server_key{};
};

bool derive_keys(const Key& salted, DerivedKeys& keys) {
  return hmac_sha256(salted, "Client Key", keys.client_key) &&
         sha256(keys.client_key, keys.stored_key) &&
         hmac_sha256(salted, "Server Key", keys.server_key);
}

std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// ---- message syntax (RFC 5802 section 7) ----

// printable = %x21-2B / %x2D-7E: visible ASCII except ','.
bool is_valid_nonce(std::string_view nonce) {
  if (nonce.empty()) return false;
  for (unsigned char c : nonce) {
    if (c < 0x21 || c > 0x7E || c == ',') return false;
  }
  return true;
}

struct Attribute {
  char name = 0;
  std::string_view value;
  std::size_t offset = 0;  // where "name=" starts in the message
};

// Splits "a=x,b=y,..." into attributes. Each part must be an ASCII letter, '=', and a value
// (which may itself contain '=', as base64 does, but never ','). Values may be empty here; callers
// decide which attributes need content.
bool split_attributes(std::string_view text, std::vector<Attribute>& out) {
  std::size_t pos = 0;
  while (true) {
    const std::size_t comma = text.find(',', pos);
    const std::string_view part =
        text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (part.size() < 2 || part[1] != '=') return false;
    const char name = part[0];
    if (!((name >= 'a' && name <= 'z') || (name >= 'A' && name <= 'Z'))) return false;
    out.push_back(Attribute{name, part.substr(2), pos});
    if (comma == std::string_view::npos) return true;
    pos = comma + 1;
  }
}

// SCRAM messages are text; PostgreSQL rejects embedded NULs, and so do we.
bool has_nul(std::string_view message) { return message.find('\0') != std::string_view::npos; }

// Positive decimal int, digits only.
std::optional<int> parse_positive_int(std::string_view text) {
  if (text.empty()) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value <= 0) return std::nullopt;
  return value;
}

std::optional<Key> decode_key(std::string_view b64) {
  const auto raw = base64_decode(b64);
  if (!raw || raw->size() != kKeyLength) return std::nullopt;
  Key key{};
  std::copy(raw->begin(), raw->end(), key.begin());
  return key;
}

// RFC 5802 saslname: ',' and '=' are escaped as "=2C" and "=3D".
std::string escape_saslname(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

// ---- base64 ----

std::string base64_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t group = (std::uint32_t{bytes[i]} << 16) |
                                (std::uint32_t{bytes[i + 1]} << 8) | std::uint32_t{bytes[i + 2]};
    out.push_back(kBase64Alphabet[(group >> 18) & 0x3F]);
    out.push_back(kBase64Alphabet[(group >> 12) & 0x3F]);
    out.push_back(kBase64Alphabet[(group >> 6) & 0x3F]);
    out.push_back(kBase64Alphabet[group & 0x3F]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t group = std::uint32_t{bytes[i]} << 16;
    if (rest == 2) group |= std::uint32_t{bytes[i + 1]} << 8;
    out.push_back(kBase64Alphabet[(group >> 18) & 0x3F]);
    out.push_back(kBase64Alphabet[(group >> 12) & 0x3F]);
    out.push_back(rest == 2 ? kBase64Alphabet[(group >> 6) & 0x3F] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last_group = i + 4 == text.size();
    std::size_t padding = 0;
    if (last_group) {
      if (text[i + 3] == '=') padding = text[i + 2] == '=' ? 2 : 1;
    }
    std::uint32_t group = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      if (j >= 4 - padding) {
        group <<= 6;
        continue;
      }
      const int value = base64_value(text[i + j]);
      if (value < 0) return std::nullopt;  // also catches '=' in the middle
      group = (group << 6) | static_cast<std::uint32_t>(value);
    }
    // The bits below the last encoded byte must be zero (RFC 4648 section 3.5); otherwise two
    // strings would decode to the same bytes.
    if ((padding == 1 && (group & 0xFF) != 0) || (padding == 2 && (group & 0xFFFF) != 0)) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>((group >> 16) & 0xFF));
    if (padding < 2) out.push_back(static_cast<char>((group >> 8) & 0xFF));
    if (padding < 1) out.push_back(static_cast<char>(group & 0xFF));
  }
  return out;
}

// ---- secrets ----

std::string normalize_password(std::string_view password) {
  // See the header: ASCII is what SASLprep leaves unchanged, and raw bytes are what PostgreSQL
  // falls back to when SASLprep rejects a password. Both cases are therefore the identity.
  return std::string(password);
}

Secret make_secret(std::string_view password, std::string_view raw_salt, int iterations) {
  Secret secret;
  secret.salt = std::string(raw_salt);
  secret.iterations = iterations;
  if (iterations <= 0 || raw_salt.empty()) return secret;  // all-zero keys: fails closed
  Key salted{};
  DerivedKeys keys;
  if (salted_password(password, raw_salt, iterations, salted) && derive_keys(salted, keys)) {
    secret.stored_key = keys.stored_key;
    secret.server_key = keys.server_key;
  }
  OPENSSL_cleanse(salted.data(), salted.size());
  OPENSSL_cleanse(keys.client_key.data(), keys.client_key.size());
  return secret;
}

std::optional<Secret> parse_stored_secret(std::string_view text) {
  // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
  const std::string prefix = std::string(kMechanism) + "$";
  if (!text.starts_with(prefix)) return std::nullopt;
  text.remove_prefix(prefix.size());

  const std::size_t dollar = text.find('$');
  if (dollar == std::string_view::npos) return std::nullopt;
  const std::string_view iterations_and_salt = text.substr(0, dollar);
  const std::string_view keys = text.substr(dollar + 1);

  const std::size_t colon1 = iterations_and_salt.find(':');
  const std::size_t colon2 = keys.find(':');
  if (colon1 == std::string_view::npos || colon2 == std::string_view::npos) return std::nullopt;

  const auto iterations = parse_positive_int(iterations_and_salt.substr(0, colon1));
  const auto salt = base64_decode(iterations_and_salt.substr(colon1 + 1));
  const auto stored_key = decode_key(keys.substr(0, colon2));
  const auto server_key = decode_key(keys.substr(colon2 + 1));
  if (!iterations || !salt || salt->empty() || !stored_key || !server_key) return std::nullopt;

  Secret secret;
  secret.salt = *salt;
  secret.iterations = *iterations;
  secret.stored_key = *stored_key;
  secret.server_key = *server_key;
  return secret;
}

std::string format_stored_secret(const Secret& secret) {
  return std::string(kMechanism) + "$" + std::to_string(secret.iterations) + ":" +
         base64_encode(as_bytes(secret.salt)) + "$" + base64_encode(secret.stored_key) + ":" +
         base64_encode(secret.server_key);
}

std::string random_nonce() {
  std::array<std::uint8_t, kNonceRandomBytes> raw{};
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) return {};
  return base64_encode(raw);
}

// ---- server side ----

ServerExchange::ServerExchange(Secret secret, std::string server_nonce)
    : secret_(std::move(secret)), server_nonce_(std::move(server_nonce)) {}

std::optional<std::string> ServerExchange::fail(std::string& error, std::string_view reason) {
  state_ = State::kFailed;
  error = std::string(reason);
  return std::nullopt;
}

std::optional<std::string> ServerExchange::on_client_first(std::string_view message,
                                                           std::string& error) {
  if (state_ != State::kAwaitClientFirst)
    return fail(error, "unexpected SCRAM client-first-message");
  if (!is_valid_nonce(server_nonce_)) return fail(error, "could not generate SCRAM nonce");
  if (secret_.salt.empty() || secret_.iterations <= 0) return fail(error, "invalid SCRAM secret");
  if (has_nul(message)) return fail(error, "malformed SCRAM message: NUL byte");

  // gs2-header = gs2-cbind-flag "," [authzid] ","
  if (message.starts_with("p=")) {
    return fail(error,
                "channel binding is not supported: the client selected channel binding "
                "(\"p=\"), but the server did not offer SCRAM-SHA-256-PLUS");
  }
  if (message.size() < 2 || (message[0] != 'n' && message[0] != 'y') || message[1] != ',') {
    return fail(error, "malformed SCRAM message: invalid channel binding flag");
  }
  if (message.substr(2).starts_with("a=")) {
    return fail(error, "client uses authorization identity, but it is not supported");
  }
  if (message.size() < 3 || message[2] != ',') {
    return fail(error, "malformed SCRAM message: expected ',' after channel binding flag");
  }
  const std::string_view gs2_header = message.substr(0, 3);
  const std::string_view bare = message.substr(3);

  // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
  std::vector<Attribute> attributes;
  if (!split_attributes(bare, attributes)) {
    return fail(error, "malformed SCRAM message: invalid attribute syntax");
  }
  if (attributes[0].name == 'm') {
    return fail(error, "SCRAM mandatory extensions are not supported");
  }
  // PostgreSQL ignores the username here (the startup packet's user counts); any value is fine.
  if (attributes[0].name != 'n') return fail(error, "malformed SCRAM message: expected n=");
  if (attributes.size() < 2 || attributes[1].name != 'r') {
    return fail(error, "malformed SCRAM message: expected r= nonce");
  }
  if (!is_valid_nonce(attributes[1].value)) {
    return fail(error, "malformed SCRAM message: invalid client nonce");
  }
  // Any further attributes are optional extensions, which we ignore as PostgreSQL does.

  gs2_header_ = std::string(gs2_header);
  client_first_bare_ = std::string(bare);
  combined_nonce_ = std::string(attributes[1].value) + server_nonce_;
  server_first_ = "r=" + combined_nonce_ + ",s=" + base64_encode(as_bytes(secret_.salt)) +
                  ",i=" + std::to_string(secret_.iterations);
  state_ = State::kAwaitClientFinal;
  return server_first_;
}

std::optional<std::string> ServerExchange::on_client_final(std::string_view message,
                                                           std::string& error) {
  if (state_ != State::kAwaitClientFinal)
    return fail(error, "unexpected SCRAM client-final-message");
  if (has_nul(message)) return fail(error, "malformed SCRAM message: NUL byte");

  // client-final-message = channel-binding "," nonce ["," extensions] "," proof
  std::vector<Attribute> attributes;
  if (!split_attributes(message, attributes)) {
    return fail(error, "malformed SCRAM message: invalid attribute syntax");
  }
  if (attributes.size() < 3 || attributes[0].name != 'c' || attributes[1].name != 'r' ||
      attributes.back().name != 'p') {
    return fail(error, "malformed SCRAM message: expected c=, r= and p=");
  }

  // Without channel binding, c= carries just the gs2 header of client-first ("biws" for "n,,").
  const auto channel_binding = base64_decode(attributes[0].value);
  if (!channel_binding) return fail(error, "malformed SCRAM message: invalid base64 in c=");
  if (*channel_binding != gs2_header_) {
    return fail(error, "SCRAM channel binding check failed");
  }
  if (attributes[1].value != combined_nonce_) return fail(error, "SCRAM nonce mismatch");

  const auto proof = base64_decode(attributes.back().value);
  if (!proof) return fail(error, "malformed SCRAM message: invalid base64 in p=");
  if (proof->size() != kKeyLength) return fail(error, "malformed SCRAM message: bad proof length");

  // AuthMessage = client-first-message-bare "," server-first-message ","
  //               client-final-message-without-proof
  const std::string_view without_proof = message.substr(0, attributes.back().offset - 1);
  const std::string auth_message =
      client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);

  // ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); accept iff H(ClientKey) == StoredKey.
  Key client_signature{}, client_key{}, computed_stored_key{};
  if (!hmac_sha256(secret_.stored_key, auth_message, client_signature)) {
    return fail(error, "SCRAM internal error");
  }
  for (std::size_t i = 0; i < kKeyLength; ++i) {
    client_key[i] =
        static_cast<std::uint8_t>(static_cast<std::uint8_t>((*proof)[i]) ^ client_signature[i]);
  }
  if (!sha256(client_key, computed_stored_key)) return fail(error, "SCRAM internal error");
  if (CRYPTO_memcmp(computed_stored_key.data(), secret_.stored_key.data(), kKeyLength) != 0) {
    return fail(error, kAuthenticationFailed);
  }

  Key server_signature{};
  if (!hmac_sha256(secret_.server_key, auth_message, server_signature)) {
    return fail(error, "SCRAM internal error");
  }
  state_ = State::kDone;
  return "v=" + base64_encode(server_signature);
}

// ---- client side ----

ClientExchange::ClientExchange(std::string password, std::string client_nonce, std::string username)
    : password_(std::move(password)),
      client_nonce_(std::move(client_nonce)),
      username_(std::move(username)) {}

std::string ClientExchange::client_first() {
  client_first_bare_ = "n=" + escape_saslname(username_) + ",r=" + client_nonce_;
  state_ = State::kAwaitServerFirst;
  return "n,," + client_first_bare_;
}

std::optional<std::string> ClientExchange::on_server_first(std::string_view message,
                                                           std::string& error) {
  const auto fail = [&](std::string_view reason) -> std::optional<std::string> {
    state_ = State::kFailed;
    error = std::string(reason);
    return std::nullopt;
  };
  if (state_ != State::kAwaitServerFirst) return fail("unexpected SCRAM server-first-message");
  if (!is_valid_nonce(client_nonce_)) return fail("could not generate SCRAM nonce");
  if (has_nul(message)) return fail("malformed SCRAM message: NUL byte");

  // server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," ext]
  std::vector<Attribute> attributes;
  if (!split_attributes(message, attributes)) {
    return fail("malformed SCRAM message: invalid attribute syntax");
  }
  if (attributes[0].name == 'm') return fail("SCRAM mandatory extensions are not supported");
  if (attributes[0].name == 'e') {
    return fail("SCRAM error from server: " + std::string(attributes[0].value));
  }
  if (attributes.size() < 3 || attributes[0].name != 'r' || attributes[1].name != 's' ||
      attributes[2].name != 'i') {
    return fail("malformed SCRAM message: expected r=, s= and i=");
  }

  const std::string_view combined_nonce = attributes[0].value;
  // The server must echo our nonce and append its own part.
  if (!is_valid_nonce(combined_nonce) || combined_nonce.size() <= client_nonce_.size() ||
      !combined_nonce.starts_with(client_nonce_)) {
    return fail("SCRAM nonce mismatch: the server nonce does not extend the client nonce");
  }
  const auto salt = base64_decode(attributes[1].value);
  if (!salt) return fail("malformed SCRAM message: invalid base64 in s=");
  if (salt->empty()) return fail("malformed SCRAM message: empty salt");
  const auto iterations = parse_positive_int(attributes[2].value);
  if (!iterations) return fail("malformed SCRAM message: invalid iteration count");

  Key salted{};
  DerivedKeys keys;
  const std::string without_proof = "c=biws,r=" + std::string(combined_nonce);  // biws = "n,,"
  const std::string auth_message =
      client_first_bare_ + "," + std::string(message) + "," + without_proof;
  Key client_signature{};
  const bool ok = salted_password(password_, *salt, *iterations, salted) &&
                  derive_keys(salted, keys) &&
                  hmac_sha256(keys.stored_key, auth_message, client_signature) &&
                  hmac_sha256(keys.server_key, auth_message, expected_server_signature_);
  OPENSSL_cleanse(salted.data(), salted.size());
  if (!ok) return fail("SCRAM internal error");

  // ClientProof = ClientKey XOR ClientSignature
  Key proof{};
  for (std::size_t i = 0; i < kKeyLength; ++i) {
    proof[i] = static_cast<std::uint8_t>(keys.client_key[i] ^ client_signature[i]);
  }
  OPENSSL_cleanse(keys.client_key.data(), keys.client_key.size());
  state_ = State::kAwaitServerFinal;
  return without_proof + ",p=" + base64_encode(proof);
}

bool ClientExchange::verify_server_final(std::string_view message, std::string& error) {
  const auto fail = [&](std::string_view reason) {
    state_ = State::kFailed;
    error = std::string(reason);
    return false;
  };
  if (state_ != State::kAwaitServerFinal) return fail("unexpected SCRAM server-final-message");
  if (has_nul(message)) return fail("malformed SCRAM message: NUL byte");

  // server-final-message = (server-error / verifier) ["," extensions]
  std::vector<Attribute> attributes;
  if (!split_attributes(message, attributes)) {
    return fail("malformed SCRAM message: invalid attribute syntax");
  }
  if (attributes[0].name == 'e') {
    return fail("SCRAM error from server: " + std::string(attributes[0].value));
  }
  if (attributes[0].name != 'v') return fail("malformed SCRAM message: expected v=");
  const auto signature = base64_decode(attributes[0].value);
  if (!signature) return fail("malformed SCRAM message: invalid base64 in v=");
  if (signature->size() != kKeyLength ||
      CRYPTO_memcmp(signature->data(), expected_server_signature_.data(), kKeyLength) != 0) {
    return fail("SCRAM server signature is invalid: the server does not know the password");
  }
  state_ = State::kDone;
  return true;
}

}  // namespace pgdual::protocol::scram
