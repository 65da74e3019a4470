// Tests of cdc/names.hpp: "pgdual_<database>" for plain names, a hash suffix for names that
// had to be folded or shortened (so two databases never share a name), the reverse name, and
// slot-name rules (lower-case letters, digits, underscores, at most 63 bytes).

#include <catch2/catch.hpp>
#include <string>

#include "cdc/names.hpp"

using pgdual::cdc::names_for;

namespace {

bool valid_slot_name(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("names: a plain database name is kept") {
  const auto names = names_for("app");
  CHECK(names.forward == "pgdual_app");
  CHECK(names.reverse == "pgdual_app_rev");
}

TEST_CASE("names: folded names get a hash, so they never collide") {
  const auto upper = names_for("App");
  const auto lower = names_for("app");
  const auto dashed = names_for("my-app");
  const auto underscored = names_for("my_app");
  CHECK(upper.forward != lower.forward);
  CHECK(dashed.forward != underscored.forward);
  CHECK(upper.forward.rfind("pgdual_app_", 0) == 0);
  CHECK(dashed.forward.rfind("pgdual_my_app_", 0) == 0);
  CHECK(valid_slot_name(upper.forward));
  CHECK(valid_slot_name(dashed.reverse));
  // Stable: the same database always gets the same names.
  CHECK(names_for("App").forward == upper.forward);
}

TEST_CASE("names: long names are shortened within 63 bytes, reverse included") {
  const std::string long_name(100, 'x');
  const auto names = names_for(long_name);
  CHECK(valid_slot_name(names.forward));
  CHECK(valid_slot_name(names.reverse));
  CHECK(names.reverse == names.forward + "_rev");
  CHECK(names_for(long_name + "y").forward != names.forward);
  // Exactly at the limit: kept whole.
  const std::string fits(63 - 7 - 4, 'a');
  CHECK(names_for(fits).forward == "pgdual_" + fits);
  CHECK(names_for(fits + "a").forward != "pgdual_" + fits + "a");
}

TEST_CASE("names: every name starts with the prefix") {
  for (const char* database : {"a", "Ünïcode", "with space", "", "123"}) {
    const auto names = names_for(database);
    CHECK(names.forward.rfind(std::string(pgdual::cdc::kNamePrefix), 0) == 0);
    CHECK(valid_slot_name(names.forward));
  }
}
