#include "protocol/md5_auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>

namespace pgdual::protocol {
namespace {

constexpr std::string_view kMd5Prefix = "md5";
constexpr std::size_t kMd5HexLength = 32;  // 16-byte digest as lowercase hex
constexpr std::size_t kResponseLength = kMd5Prefix.size() + kMd5HexLength;

// Lowercase hex of md5(data), or empty on libcrypto failure. Uses EVP because the MD5() one-shot
// is deprecated in OpenSSL 3.
std::string md5_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_length = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &digest_length, EVP_md5(), nullptr) !=
          1 ||
      digest_length != kMd5HexLength / 2) {
    return {};
  }
  static constexpr char kHexDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(kMd5HexLength);
  for (unsigned int i = 0; i < digest_length; ++i) {
    hex.push_back(kHexDigits[digest[i] >> 4]);
    hex.push_back(kHexDigits[digest[i] & 0x0F]);
  }
  return hex;
}

bool is_lower_hex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Second stage: "md5" + hex(md5(inner_hex + salt)).
std::string outer_response(std::string_view inner_hex, std::span<const std::uint8_t, 4> salt) {
  if (inner_hex.size() != kMd5HexLength) return {};
  std::string buffer(inner_hex);
  buffer.append(reinterpret_cast<const char*>(salt.data()), salt.size());
  std::string outer = md5_hex(buffer);
  if (outer.empty()) return {};
  return std::string(kMd5Prefix) + outer;
}

// Constant-time equality of a computed response with the client's. Lengths are public (always 35
// for a well-formed response), so only the contents are compared in constant time.
bool responses_equal(const std::string& expected, std::string_view client_response) {
  if (expected.size() != kResponseLength || client_response.size() != expected.size()) {
    return false;
  }
  return CRYPTO_memcmp(expected.data(), client_response.data(), expected.size()) == 0;
}

}  // namespace

std::string md5_password_response(std::string_view user, std::string_view password,
                                  std::span<const std::uint8_t, 4> salt) {
  std::string password_then_user(password);
  password_then_user.append(user);
  const std::string inner = md5_hex(password_then_user);
  OPENSSL_cleanse(password_then_user.data(), password_then_user.size());
  return outer_response(inner, salt);
}

bool md5_verify(std::string_view user, std::string_view password,
                std::span<const std::uint8_t, 4> salt, std::string_view client_response) {
  return responses_equal(md5_password_response(user, password, salt), client_response);
}

std::string md5_response_from_stored(std::string_view stored_hash,
                                     std::span<const std::uint8_t, 4> salt) {
  if (stored_hash.size() != kResponseLength || !stored_hash.starts_with(kMd5Prefix)) return {};
  const std::string_view inner = stored_hash.substr(kMd5Prefix.size());
  if (!is_lower_hex(inner)) return {};
  return outer_response(inner, salt);
}

bool md5_verify_stored(std::string_view stored_hash, std::span<const std::uint8_t, 4> salt,
                       std::string_view client_response) {
  return responses_equal(md5_response_from_stored(stored_hash, salt), client_response);
}

}  // namespace pgdual::protocol
