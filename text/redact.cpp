#include "text/redact.hpp"

#include <openssl/evp.h>

#include <array>

namespace pgdual::text {

std::string redacted(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  std::string out = "sha256:";
  if (EVP_Digest(value.data(), value.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length < 8) {
    return out + "unavailable";  // never the value itself
  }
  for (std::size_t i = 0; i < 8; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

}  // namespace pgdual::text
