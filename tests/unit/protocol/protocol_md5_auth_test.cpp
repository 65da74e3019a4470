#include <array>
#include <catch2/catch.hpp>
#include <cstdint>

#include "protocol/md5_auth.hpp"

using pgdual::protocol::md5_password_response;
using pgdual::protocol::md5_response_from_stored;
using pgdual::protocol::md5_verify;
using pgdual::protocol::md5_verify_stored;

namespace {

constexpr std::array<std::uint8_t, 4> kSalt{1, 2, 3, 4};

// Computed independently with /usr/bin/python3 hashlib:
//   inner = hashlib.md5(b"secret" + b"postgres").hexdigest()
//   "md5" + hashlib.md5(inner.encode() + bytes([1, 2, 3, 4])).hexdigest()
constexpr std::string_view kInnerHash = "md553f48b7c4b76a86ce72276c5755f217d";  // pg_authid form
constexpr std::string_view kExpectedResponse = "md5bb41a296aab6baccb36ff243a562abff";

}  // namespace

TEST_CASE("md5 response matches an independently computed value") {
  CHECK(md5_password_response("postgres", "secret", kSalt) == kExpectedResponse);
}

TEST_CASE("md5 response depends on user, password and salt") {
  const std::array<std::uint8_t, 4> other_salt{4, 3, 2, 1};
  CHECK(md5_password_response("postgres", "secret", other_salt) != kExpectedResponse);
  CHECK(md5_password_response("postgre", "secret", kSalt) != kExpectedResponse);
  CHECK(md5_password_response("postgres", "secreT", kSalt) != kExpectedResponse);
  // Salt bytes are binary, including zero bytes.
  const std::array<std::uint8_t, 4> zero_salt{0, 0, 0, 0};
  CHECK(md5_password_response("postgres", "secret", zero_salt).size() == 35);
}

TEST_CASE("md5_verify accepts the right response and rejects others") {
  CHECK(md5_verify("postgres", "secret", kSalt, kExpectedResponse));
  CHECK_FALSE(md5_verify("postgres", "wrong", kSalt, kExpectedResponse));
  CHECK_FALSE(md5_verify("alice", "secret", kSalt, kExpectedResponse));
  CHECK_FALSE(md5_verify("postgres", "secret", kSalt, ""));
  CHECK_FALSE(md5_verify("postgres", "secret", kSalt, "md5"));
  CHECK_FALSE(md5_verify("postgres", "secret", kSalt, "MD5bb41a296aab6baccb36ff243a562abff"));
  CHECK_FALSE(md5_verify("postgres", "secret", kSalt, std::string(kExpectedResponse) + "0"));
  CHECK_FALSE(md5_verify("postgres", "secret", kSalt, kExpectedResponse.substr(0, 34)));
  // A client that sends the stored hash itself is not authenticated.
  CHECK_FALSE(md5_verify("postgres", "secret", kSalt, kInnerHash));
}

TEST_CASE("md5 from a stored pg_authid hash equals md5 from the password") {
  CHECK(md5_response_from_stored(kInnerHash, kSalt) == kExpectedResponse);
  CHECK(md5_verify_stored(kInnerHash, kSalt, kExpectedResponse));
  CHECK_FALSE(md5_verify_stored(kInnerHash, kSalt, md5_password_response("postgres", "x", kSalt)));
}

TEST_CASE("malformed stored md5 hashes never verify") {
  for (std::string_view bad : {std::string_view{}, std::string_view{"md5"},
                               std::string_view{"md553f48b7c4b76a86ce72276c5755f217"},
                               std::string_view{"md553F48B7C4B76A86CE72276C5755F217D"},
                               std::string_view{"xx553f48b7c4b76a86ce72276c5755f217d"},
                               std::string_view{"md553f48b7c4b76a86ce72276c5755f217z"}}) {
    CAPTURE(bad);
    CHECK(md5_response_from_stored(bad, kSalt).empty());
    CHECK_FALSE(md5_verify_stored(bad, kSalt, kExpectedResponse));
    CHECK_FALSE(md5_verify_stored(bad, kSalt, ""));
  }
}
