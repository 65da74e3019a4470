#include <catch2/catch.hpp>
#include <string>

#include "protocol/scram.hpp"

using namespace pgdual::protocol::scram;

namespace {

// RFC 7677 section 3: user "user", password "pencil".
constexpr std::string_view kRfcClientNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kRfcServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view kRfcSaltB64 = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr std::string_view kRfcClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kRfcServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kRfcClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view kRfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

// Verifiers in PostgreSQL's pg_authid form, computed independently with /usr/bin/python3:
//   sp = hashlib.pbkdf2_hmac("sha256", password, salt, iterations)
//   ck = hmac.new(sp, b"Client Key", sha256).digest(); sk = hmac.new(sp, b"Server Key", ...)
//   f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(sha256(ck))}:{b64(sk)}"
// password "pencil", the RFC 7677 salt, 4096 iterations:
constexpr std::string_view kPencilVerifier =
    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
// password "secret", salt bytes 0x00..0x0f, 4096 iterations:
constexpr std::string_view kSecretVerifier =
    "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqNP5U=:"
    "7YiHMMi2OcXGRogub03Ek06JRZ9bkhTOdCzHa5iPLiQ=";
// password "pässwörd" (UTF-8 bytes, used raw), salt "saltsalt", 1000 iterations:
constexpr std::string_view kNonAsciiVerifier =
    "SCRAM-SHA-256$1000:c2FsdHNhbHQ=$yhPQGUOaiFsgWo9gHfhh2fWZweAATHJhzfcT8EurYe8=:"
    "4Dsu+MiTX/DWbrskGgyGxpTYDO6QDOTfwWMvOfMtw+w=";

std::string rfc_salt() { return *base64_decode(kRfcSaltB64); }

std::string bytes_0_to_15() {
  std::string salt;
  for (int i = 0; i < 16; ++i) salt.push_back(static_cast<char>(i));
  return salt;
}

// Runs client-first on a fresh server, expecting success; returns the server-first.
std::string server_first_for(ServerExchange& server, std::string_view client_first) {
  std::string error;
  const auto reply = server.on_client_first(client_first, error);
  REQUIRE(reply.has_value());
  return *reply;
}

std::string rfc_client_final_with(std::string_view replace, std::string_view with) {
  std::string message(kRfcClientFinal);
  const auto pos = message.find(replace);
  REQUIRE(pos != std::string::npos);
  message.replace(pos, replace.size(), with);
  return message;
}

}  // namespace

TEST_CASE("base64 matches RFC 4648 test vectors") {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(plain.data()),
                                              plain.size());
    CHECK(base64_encode(bytes) == encoded);
    CHECK(base64_decode(encoded) == plain);
  }
  const std::array<std::uint8_t, 3> high{0xFB, 0xFF, 0xBF};
  CHECK(base64_encode(high) == "+/+/");
  CHECK(base64_decode("+/+/") == std::string("\xFB\xFF\xBF"));
}

TEST_CASE("base64 decoding is strict") {
  for (std::string_view bad : {"Z", "Zg=", "Z===", "====", "=Zg=", "Zg=a", "Zg==Zg==", "Zm9v\n",
                               " Zm9v", "Zm9v!", "Zm-_", "Zm9vY", "Zh==", "Zm9=", "Zm9vYh=="}) {
    CAPTURE(bad);
    CHECK_FALSE(base64_decode(bad).has_value());
  }
}

TEST_CASE("random_nonce is 18 random bytes in base64") {
  const std::string a = random_nonce();
  const std::string b = random_nonce();
  CHECK(a.size() == 24);
  CHECK(base64_decode(a)->size() == kNonceRandomBytes);
  CHECK(a != b);
  CHECK(a.find(',') == std::string::npos);
}

TEST_CASE("RFC 7677 test vector: ClientExchange") {
  ClientExchange client("pencil", std::string(kRfcClientNonce), "user");
  CHECK(client.client_first() == kRfcClientFirst);
  std::string error;
  const auto client_final = client.on_server_first(kRfcServerFirst, error);
  REQUIRE(client_final.has_value());
  CHECK(*client_final == kRfcClientFinal);
  CHECK(client.verify_server_final(kRfcServerFinal, error));
  CHECK(error.empty());
}

TEST_CASE("RFC 7677 test vector: ServerExchange") {
  ServerExchange server(make_secret("pencil", rfc_salt(), 4096), std::string(kRfcServerNonce));
  std::string error;
  const auto server_first = server.on_client_first(kRfcClientFirst, error);
  REQUIRE(server_first.has_value());
  CHECK(*server_first == kRfcServerFirst);
  CHECK_FALSE(server.authenticated());
  const auto server_final = server.on_client_final(kRfcClientFinal, error);
  REQUIRE(server_final.has_value());
  CHECK(*server_final == kRfcServerFinal);
  CHECK(server.authenticated());
}

TEST_CASE("RFC 7677 test vector: ServerExchange from a stored verifier") {
  const auto secret = parse_stored_secret(kPencilVerifier);
  REQUIRE(secret.has_value());
  ServerExchange server(*secret, std::string(kRfcServerNonce));
  server_first_for(server, kRfcClientFirst);
  std::string error;
  CHECK(server.on_client_final(kRfcClientFinal, error) == std::string(kRfcServerFinal));
}

TEST_CASE("client-first is PostgreSQL-style by default") {
  ClientExchange client("pw", "abc");
  CHECK(client.client_first() == "n,,n=,r=abc");
  ClientExchange escaped("pw", "abc", "a=b,c");
  CHECK(escaped.client_first() == "n,,n=a=3Db=2Cc,r=abc");
}

TEST_CASE("ClientExchange and ServerExchange agree with random nonces") {
  for (std::string password : {"secret", "", "p@ss,w=rd with spaces", "pässwörd"}) {
    CAPTURE(password);
    ServerExchange server(make_secret(password, "some salt bytes", 4096));
    ClientExchange client(password);
    std::string error;
    const auto server_first = server.on_client_first(client.client_first(), error);
    REQUIRE(server_first.has_value());
    const auto client_final = client.on_server_first(*server_first, error);
    REQUIRE(client_final.has_value());
    const auto server_final = server.on_client_final(*client_final, error);
    REQUIRE(server_final.has_value());
    CHECK(server.authenticated());
    CHECK(client.verify_server_final(*server_final, error));
    CHECK(error.empty());
  }
}

TEST_CASE("wrong password is rejected on both sides") {
  ServerExchange server(make_secret("right", "salt", 4096));
  ClientExchange client("wrong");
  std::string error;
  const auto server_first = server.on_client_first(client.client_first(), error);
  REQUIRE(server_first.has_value());
  const auto client_final = client.on_server_first(*server_first, error);
  REQUIRE(client_final.has_value());
  CHECK_FALSE(server.on_client_final(*client_final, error).has_value());
  CHECK(error == "password authentication failed");
  CHECK_FALSE(server.authenticated());

  // A server that does not know the password cannot forge the final message either.
  ServerExchange impostor(make_secret("guess", "salt", 4096));
  ClientExchange victim("right");
  const auto first = impostor.on_client_first(victim.client_first(), error);
  REQUIRE(first.has_value());
  REQUIRE(victim.on_server_first(*first, error).has_value());
  CHECK_FALSE(
      victim.verify_server_final("v=" + base64_encode(std::array<std::uint8_t, 32>{}), error));
  CHECK(error.find("server signature") != std::string::npos);
}

TEST_CASE("a tampered proof or server signature is rejected") {
  std::string error;
  {
    ServerExchange server(make_secret("pencil", rfc_salt(), 4096), std::string(kRfcServerNonce));
    server_first_for(server, kRfcClientFirst);
    const auto tampered = rfc_client_final_with("p=dHzb", "p=dHza");
    CHECK_FALSE(server.on_client_final(tampered, error).has_value());
    CHECK(error == kAuthenticationFailed);
  }
  {
    ClientExchange client("pencil", std::string(kRfcClientNonce), "user");
    client.client_first();
    REQUIRE(client.on_server_first(kRfcServerFirst, error).has_value());
    CHECK_FALSE(
        client.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G8=", error));
    CHECK(error.find("server signature") != std::string::npos);
  }
  {
    // Flipping only the unused bits before the padding is caught as bad base64.
    ClientExchange client("pencil", std::string(kRfcClientNonce), "user");
    client.client_first();
    REQUIRE(client.on_server_first(kRfcServerFirst, error).has_value());
    CHECK_FALSE(
        client.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G5=", error));
    CHECK(error.find("base64") != std::string::npos);
  }
}

TEST_CASE("tampered nonces are rejected") {
  std::string error;
  SECTION("client-final nonce differs from client + server nonce") {
    ServerExchange server(make_secret("pencil", rfc_salt(), 4096), std::string(kRfcServerNonce));
    server_first_for(server, kRfcClientFirst);
    const auto tampered = rfc_client_final_with("r=rOpr", "r=XOpr");
    CHECK_FALSE(server.on_client_final(tampered, error).has_value());
    CHECK(error.find("nonce") != std::string::npos);
  }
  SECTION("client-final nonce is only the client's part") {
    ServerExchange server(make_secret("pencil", rfc_salt(), 4096), std::string(kRfcServerNonce));
    server_first_for(server, kRfcClientFirst);
    const std::string message = "c=biws,r=" + std::string(kRfcClientNonce) + ",p=" +
                                std::string(kRfcClientFinal.substr(kRfcClientFinal.find("p=") + 2));
    CHECK_FALSE(server.on_client_final(message, error).has_value());
    CHECK(error.find("nonce") != std::string::npos);
  }
  SECTION("server nonce does not start with the client nonce") {
    ClientExchange client("pencil", std::string(kRfcClientNonce), "user");
    client.client_first();
    CHECK_FALSE(
        client
            .on_server_first("r=XOprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", error)
            .has_value());
    CHECK(error.find("nonce") != std::string::npos);
  }
  SECTION("server nonce adds nothing to the client nonce") {
    ClientExchange client("pencil", std::string(kRfcClientNonce), "user");
    client.client_first();
    CHECK_FALSE(
        client.on_server_first("r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", error)
            .has_value());
    CHECK(error.find("nonce") != std::string::npos);
  }
}

TEST_CASE("malformed client-first messages are rejected with an error") {
  const std::pair<std::string, std::string> cases[] = {
      {"", "malformed"},
      {"n", "malformed"},
      {"n,", "malformed"},
      {"n,,", "malformed"},
      {"x,,n=,r=abc", "malformed"},
      {"n,,r=abc", "expected n="},
      {"n,,n=", "r="},
      {"n,,n=user", "r="},
      {"n,,n=,r=", "nonce"},
      {"n,,n=,x=abc", "r="},
      {"n,,n=,r=abc,bogus", "malformed"},
      {"n,,n=,r=ab\x01"
       "c",
       "nonce"},
      {std::string("n,,n=,r=ab\0c", 12), "NUL"},
      {"p=tls-server-end-point,,n=,r=abc", "channel binding"},
      {"n,a=admin,n=,r=abc", "authorization identity"},
      {"n,admin,n=,r=abc", "malformed"},
      {"n,,m=ext,n=,r=abc", "mandatory extension"},
  };
  for (const auto& [message, expected_error] : cases) {
    CAPTURE(message);
    ServerExchange server(make_secret("pencil", "salt", 4096), "servernonce");
    std::string error;
    CHECK_FALSE(server.on_client_first(message, error).has_value());
    CHECK(error.find(expected_error) != std::string::npos);
    // Once failed, the exchange stays failed.
    CHECK_FALSE(server.on_client_final("c=biws,r=abcservernonce,p=AAAA", error).has_value());
  }
}

TEST_CASE("client-first extensions, non-empty user and the y flag are accepted") {
  ServerExchange server(make_secret("pencil", "salt", 4096), "SRV");
  std::string error;
  const auto reply = server.on_client_first("y,,n=whoever,r=abc,x=ext", error);
  REQUIRE(reply.has_value());
  CHECK(reply->starts_with("r=abcSRV,s=c2FsdA==,i=4096"));
  // With "y,,", c= must carry "y,," (eSws), not "n,," (biws).
  CHECK_FALSE(server
                  .on_client_final(
                      "c=biws,r=abcSRV,p=" + base64_encode(std::array<std::uint8_t, 32>{}), error)
                  .has_value());
  CHECK(error.find("channel binding") != std::string::npos);
}

TEST_CASE("malformed client-final messages are rejected with an error") {
  const std::string nonce = std::string(kRfcClientNonce) + std::string(kRfcServerNonce);
  const std::string proof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
  const std::pair<std::string, std::string> cases[] = {
      {"", "malformed"},
      {"c=biws,r=" + nonce, "expected c=, r= and p="},
      {"c=biws,p=" + proof, "expected c=, r= and p="},
      {"r=" + nonce + ",c=biws,p=" + proof, "expected c=, r= and p="},
      {"c=biws,r=" + nonce + ",p=" + proof + ",x=1", "expected c=, r= and p="},
      {"c=biws,r=" + nonce + ",p=!!!!", "base64"},
      {"c=biws,r=" + nonce + ",p=dHzb", "proof length"},
      {"c=biws,r=" + nonce + ",p=", "proof length"},
      {"c=b!ws,r=" + nonce + ",p=" + proof, "base64"},
      {"c=eSws,r=" + nonce + ",p=" + proof, "channel binding"},
      {"c=cD10bHMtc2VydmVyLWVuZC1wb2ludCws,r=" + nonce + ",p=" + proof, "channel binding"},
      {"c=biws,r=" + nonce + ",,p=" + proof, "malformed"},
  };
  for (const auto& [message, expected_error] : cases) {
    CAPTURE(message);
    ServerExchange server(make_secret("pencil", rfc_salt(), 4096), std::string(kRfcServerNonce));
    server_first_for(server, kRfcClientFirst);
    std::string error;
    CHECK_FALSE(server.on_client_final(message, error).has_value());
    CHECK(error.find(expected_error) != std::string::npos);
    CHECK_FALSE(server.authenticated());
  }
}

TEST_CASE("client-final extensions before the proof are accepted and signed") {
  // An extension is part of client-final-message-without-proof, so the proof must cover it; the
  // RFC proof does not, so this must fail authentication (not parsing).
  ServerExchange server(make_secret("pencil", rfc_salt(), 4096), std::string(kRfcServerNonce));
  server_first_for(server, kRfcClientFirst);
  std::string error;
  CHECK_FALSE(server.on_client_final(rfc_client_final_with(",p=", ",x=ext,p="), error));
  CHECK(error == kAuthenticationFailed);
}

TEST_CASE("messages out of order are rejected") {
  std::string error;
  ServerExchange server(make_secret("pencil", "salt", 4096));
  CHECK_FALSE(server.on_client_final(kRfcClientFinal, error).has_value());
  CHECK(error.find("unexpected") != std::string::npos);

  ClientExchange client("pencil");
  CHECK_FALSE(client.on_server_first(kRfcServerFirst, error).has_value());
  ClientExchange client2("pencil");
  client2.client_first();
  CHECK_FALSE(client2.verify_server_final(kRfcServerFinal, error));
  CHECK(error.find("unexpected") != std::string::npos);
}

TEST_CASE("malformed server-first messages are rejected with an error") {
  const std::string r = "r=" + std::string(kRfcClientNonce) + "SRV";
  const std::pair<std::string, std::string> cases[] = {
      {"", "malformed"},
      {"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "expected r=, s= and i="},
      {r + ",i=4096", "expected r=, s= and i="},
      {r + ",s=W22ZaJ0SNY7soEsUEjb6gQ==", "expected r=, s= and i="},
      {r + ",s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096", "base64"},
      {r + ",s=!!!!,i=4096", "base64"},
      {r + ",s=,i=4096", "empty salt"},
      {r + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0", "iteration"},
      {r + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1", "iteration"},
      {r + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=+5", "iteration"},
      {r + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=", "iteration"},
      {r + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=abc", "iteration"},
      {r + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999", "iteration"},
      {"m=ext," + r + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "mandatory extension"},
      {"e=other-error", "other-error"},
      {"r=rOpr,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "nonce"},
  };
  for (const auto& [message, expected_error] : cases) {
    CAPTURE(message);
    ClientExchange client("pencil", std::string(kRfcClientNonce));
    client.client_first();
    std::string error;
    CHECK_FALSE(client.on_server_first(message, error).has_value());
    CHECK(error.find(expected_error) != std::string::npos);
  }
}

TEST_CASE("server-final errors and malformed verifiers are reported") {
  const std::pair<std::string, std::string> cases[] = {
      {"e=invalid-proof", "invalid-proof"},
      {"", "malformed"},
      {"v=!!!!", "base64"},
      {"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl9", "server signature"},
      {"x=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", "expected v="},
  };
  for (const auto& [message, expected_error] : cases) {
    CAPTURE(message);
    ClientExchange client("pencil", std::string(kRfcClientNonce), "user");
    client.client_first();
    std::string error;
    REQUIRE(client.on_server_first(kRfcServerFirst, error).has_value());
    CHECK_FALSE(client.verify_server_final(message, error));
    CHECK(error.find(expected_error) != std::string::npos);
  }
  // Extensions after v= are allowed.
  ClientExchange client("pencil", std::string(kRfcClientNonce), "user");
  client.client_first();
  std::string error;
  REQUIRE(client.on_server_first(kRfcServerFirst, error).has_value());
  CHECK(client.verify_server_final(std::string(kRfcServerFinal) + ",x=ext", error));
}

TEST_CASE("every prefix of valid messages is handled without crashing") {
  const std::string client_first(kRfcClientFirst);
  for (std::size_t n = 0; n < client_first.size(); ++n) {
    ServerExchange server(make_secret("pencil", rfc_salt(), 4096), std::string(kRfcServerNonce));
    std::string error;
    (void)server.on_client_first(client_first.substr(0, n), error);
  }
  const std::string client_final(kRfcClientFinal);
  for (std::size_t n = 0; n < client_final.size(); ++n) {
    ServerExchange server(make_secret("pencil", rfc_salt(), 4096), std::string(kRfcServerNonce));
    server_first_for(server, kRfcClientFirst);
    std::string error;
    CHECK_FALSE(server.on_client_final(client_final.substr(0, n), error).has_value());
    CHECK_FALSE(error.empty());
  }
  const std::string server_first(kRfcServerFirst);
  for (std::size_t n = 0; n < server_first.size(); ++n) {
    ClientExchange client("pencil", std::string(kRfcClientNonce), "user");
    client.client_first();
    std::string error;
    (void)client.on_server_first(server_first.substr(0, n), error);
  }
}

TEST_CASE("make_secret matches independently computed PostgreSQL verifiers") {
  CHECK(format_stored_secret(make_secret("pencil", rfc_salt(), 4096)) == kPencilVerifier);
  CHECK(format_stored_secret(make_secret("secret", bytes_0_to_15(), 4096)) == kSecretVerifier);
  // Non-ASCII: raw UTF-8 bytes (this password is already SASLprep-stable, so PostgreSQL agrees).
  CHECK(format_stored_secret(make_secret("p\xC3\xA4ssw\xC3\xB6rd", "saltsalt", 1000)) ==
        kNonAsciiVerifier);
  CHECK(normalize_password("pencil") == "pencil");
}

TEST_CASE("parse_stored_secret round-trips with make_secret") {
  const Secret made = make_secret("secret", bytes_0_to_15(), 4096);
  const auto parsed = parse_stored_secret(format_stored_secret(made));
  REQUIRE(parsed.has_value());
  CHECK(parsed->salt == made.salt);
  CHECK(parsed->iterations == made.iterations);
  CHECK(parsed->stored_key == made.stored_key);
  CHECK(parsed->server_key == made.server_key);
  CHECK(format_stored_secret(*parsed) == kSecretVerifier);

  const auto from_pg = parse_stored_secret(kSecretVerifier);
  REQUIRE(from_pg.has_value());
  CHECK(from_pg->iterations == 4096);
  CHECK(from_pg->salt == bytes_0_to_15());
  CHECK(from_pg->stored_key == made.stored_key);
}

TEST_CASE("parse_stored_secret rejects malformed verifiers") {
  const std::string keys =
      "THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqNP5U=:7YiHMMi2OcXGRogub03Ek06JRZ9bkhTOdCzHa5iPLiQ=";
  for (std::string bad : {
           std::string{},
           std::string{"secret"},
           std::string{"md553f48b7c4b76a86ce72276c5755f217d"},
           "SCRAM-SHA-1$4096:AAECAwQFBgcICQoLDA0ODw==$" + keys,
           "scram-sha-256$4096:AAECAwQFBgcICQoLDA0ODw==$" + keys,
           "SCRAM-SHA-256$0:AAECAwQFBgcICQoLDA0ODw==$" + keys,
           "SCRAM-SHA-256$-1:AAECAwQFBgcICQoLDA0ODw==$" + keys,
           "SCRAM-SHA-256$x:AAECAwQFBgcICQoLDA0ODw==$" + keys,
           "SCRAM-SHA-256$4096:$" + keys,
           "SCRAM-SHA-256$4096:!!!!$" + keys,
           "SCRAM-SHA-256$4096AAECAwQFBgcICQoLDA0ODw==$" + keys,
           std::string{"SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw=="},
           std::string{"SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$"
                       "THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqNP5U="},
           std::string{"SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$"
                       "THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqN:"
                       "7YiHMMi2OcXGRogub03Ek06JRZ9bkhTOdCzHa5iPLiQ="},
           "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$" + keys + "AAAA",
       }) {
    CAPTURE(bad);
    CHECK_FALSE(parse_stored_secret(bad).has_value());
  }
}

TEST_CASE("a server with an unusable nonce or secret refuses to start") {
  std::string error;
  ServerExchange no_nonce(make_secret("pencil", "salt", 4096), "");
  CHECK_FALSE(no_nonce.on_client_first("n,,n=,r=abc", error).has_value());
  ServerExchange comma_nonce(make_secret("pencil", "salt", 4096), "a,b");
  CHECK_FALSE(comma_nonce.on_client_first("n,,n=,r=abc", error).has_value());
  ServerExchange no_salt(Secret{}, "SRV");
  CHECK_FALSE(no_salt.on_client_first("n,,n=,r=abc", error).has_value());
  ClientExchange no_client_nonce("pencil", "");
  no_client_nonce.client_first();
  CHECK_FALSE(no_client_nonce.on_server_first(kRfcServerFirst, error).has_value());
}
