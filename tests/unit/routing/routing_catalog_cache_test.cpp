#include <catch2/catch.hpp>

#include "routing/classify/catalog_cache.hpp"

using pgdual::routing::CatalogCache;
using pgdual::routing::CatalogFacts;

TEST_CASE("an unknown function makes the catalog stale, at most once per interval") {
  CatalogCache cache;
  bool claim = false;
  cache.get("old/app", claim);
  REQUIRE(claim);
  cache.store("old/app", std::make_shared<const CatalogFacts>());
  cache.get("old/app", claim);
  CHECK_FALSE(claim);  // fresh

  const auto start = std::chrono::steady_clock::now();
  const auto interval = std::chrono::seconds(10);
  const auto generation = cache.generation();
  CHECK(cache.mark_stale_for_unknown("old/app", interval, start));
  CHECK(cache.generation() > generation);
  cache.get("old/app", claim);
  CHECK(claim);  // the first call for a function that is still unknown reads the catalog again
  cache.store("old/app", std::make_shared<const CatalogFacts>());

  CHECK_FALSE(cache.mark_stale_for_unknown("old/app", interval, start + std::chrono::seconds(3)));
  cache.get("old/app", claim);
  CHECK_FALSE(claim);  // a client that keeps calling it does not
  CHECK(cache.mark_stale_for_unknown("new/app", interval, start + std::chrono::seconds(3)));
  CHECK(cache.mark_stale_for_unknown("old/app", interval, start + std::chrono::seconds(11)));
  cache.get("old/app", claim);
  CHECK(claim);
}
