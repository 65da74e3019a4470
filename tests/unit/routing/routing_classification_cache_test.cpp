#include <catch2/catch.hpp>
#include <string>

#include "routing/classify/classification_cache.hpp"

using pgdual::routing::ClassificationCache;
using pgdual::routing::ClassifierOptions;
using pgdual::routing::StatementKind;

TEST_CASE("the cache counts hits and misses", "[cache]") {
  ClassificationCache cache(8);
  const ClassifierOptions options;
  CHECK(cache.get("SELECT 1", options).overall() == StatementKind::read);
  CHECK(cache.get("SELECT 1", options).overall() == StatementKind::read);
  CHECK(cache.get("UPDATE t SET a = 1", options).overall() == StatementKind::write);
  CHECK(cache.get("SELECT 1", options).statements.size() == 1);
  CHECK(cache.hits() == 2);
  CHECK(cache.misses() == 2);
  CHECK(cache.size() == 2);
}

TEST_CASE("the cache evicts the least recently used entry at capacity", "[cache]") {
  ClassificationCache cache(3);
  const ClassifierOptions options;
  cache.get("SELECT 1", options);
  cache.get("SELECT 2", options);
  cache.get("SELECT 3", options);
  cache.get("SELECT 1", options);  // now the most recently used
  cache.get("SELECT 4", options);  // evicts SELECT 2
  CHECK(cache.size() == 3);
  const auto misses = cache.misses();
  cache.get("SELECT 1", options);
  cache.get("SELECT 3", options);
  cache.get("SELECT 4", options);
  CHECK(cache.misses() == misses);
  cache.get("SELECT 2", options);
  CHECK(cache.misses() == misses + 1);
  CHECK(cache.size() == 3);
}

TEST_CASE("clearing the cache applies new options", "[cache]") {
  ClassificationCache cache;
  ClassifierOptions options;
  CHECK(cache.get("SELECT audit()", options).statements[0].kind == StatementKind::read);
  options.write_functions = {"audit"};
  cache.clear();
  CHECK(cache.size() == 0);
  CHECK(cache.get("SELECT audit()", options).statements[0].kind == StatementKind::write);
}

TEST_CASE("parse failures are cached too, huge texts are not kept", "[cache]") {
  ClassificationCache cache(4, 64);
  const ClassifierOptions options;
  CHECK_FALSE(cache.get("SELEC 1", options).parsed);
  CHECK_FALSE(cache.get("SELEC 1", options).parsed);
  CHECK(cache.hits() == 1);

  const std::string long_text = "SELECT " + std::string(100, '1');
  CHECK(cache.get(long_text, options).parsed);
  CHECK(cache.get(long_text, options).parsed);
  CHECK(cache.size() == 1);
  CHECK(cache.misses() == 3);
}

TEST_CASE("a zero capacity still works", "[cache]") {
  ClassificationCache cache(0);
  const ClassifierOptions options;
  CHECK(cache.get("SELECT 1", options).parsed);
  CHECK(cache.get("SELECT 2", options).parsed);
  CHECK(cache.size() == 1);
}
