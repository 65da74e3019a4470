// Tests for config/env_expand.hpp: ${VAR} substitution with an injected environment.

#include <catch2/catch.hpp>
#include <map>

#include "config/env_expand.hpp"

namespace {

using pgdual::config::EnvLookup;
using pgdual::config::expand_env;

EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace

TEST_CASE("text without references is unchanged", "[env]") {
  const auto env = fake_env({});
  for (const char* text : {"", "plain", "$", "$$", "a$b", "cost: $5", "}{", "$ {X}"}) {
    const auto r = expand_env(text, env);
    INFO(text);
    CHECK(r.error.empty());
    CHECK(r.value == text);
    CHECK_FALSE(r.used_reference);
  }
}

TEST_CASE("references are replaced", "[env]") {
  const auto env = fake_env({{"A", "1"}, {"LONG_NAME_2", "two"}, {"EMPTY", ""}, {"_x", "u"}});
  CHECK(expand_env("${A}", env).value == "1");
  CHECK(expand_env("x${A}y${LONG_NAME_2}z", env).value == "x1ytwoz");
  CHECK(expand_env("${EMPTY}", env).value.empty());
  CHECK(expand_env("${_x}", env).value == "u");
  CHECK(expand_env("${A}", env).used_reference);
}

TEST_CASE("substituted text is not expanded again", "[env]") {
  const auto env = fake_env({{"A", "${B}"}, {"B", "no"}});
  const auto r = expand_env("${A}", env);
  CHECK(r.error.empty());
  CHECK(r.value == "${B}");
}

TEST_CASE("$${ escapes a literal ${", "[env]") {
  const auto env = fake_env({{"A", "1"}});
  CHECK(expand_env("$${A}", env).value == "${A}");
  // Scanned left to right: "$" then the escape "$${".
  CHECK(expand_env("$$${A}", env).value == "$${A}");
  CHECK(expand_env("pa$${ss", env).value == "pa${ss");
  CHECK_FALSE(expand_env("$${A}", env).used_reference);
}

TEST_CASE("errors name the variable but never a value", "[env]") {
  const auto env = fake_env({{"SET", "secret-value"}});
  auto r = expand_env("x${MISSING}y", env);
  CHECK(r.error == "environment variable MISSING is not set");

  r = expand_env("${SET", env);
  CHECK(r.error.find("unterminated") != std::string::npos);

  for (const char* bad : {"${}", "${1ABC}", "${A-B}", "${my secret}"}) {
    r = expand_env(bad, env);
    INFO(bad);
    CHECK(r.error.find("invalid environment variable reference") != std::string::npos);
    CHECK(r.error.find("secret") == std::string::npos);
  }
}

TEST_CASE("process_environment reads getenv", "[env]") {
  ::setenv("PGDUAL_ENV_EXPAND_TEST", "from-process", 1);
  const auto env = pgdual::config::process_environment();
  CHECK(env("PGDUAL_ENV_EXPAND_TEST") == std::optional<std::string>("from-process"));
  ::unsetenv("PGDUAL_ENV_EXPAND_TEST");
  CHECK_FALSE(env("PGDUAL_ENV_EXPAND_TEST").has_value());
}
