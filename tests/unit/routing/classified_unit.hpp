#pragma once
// A unit of SQL text as the router sees it (the classifier's statements as UnitFacts), for
// the routing tests.

#include <string_view>

#include "routing/phase_rules.hpp"

namespace pgdual::routing::testing {

struct ClassifiedUnit {
  explicit ClassifiedUnit(std::string_view sql) : classification(classify(sql)) {
    facts.parse_failed = !classification.parsed;
    for (const auto& statement : classification.statements) facts.statements.push_back(&statement);
  }
  Classification classification;
  UnitFacts facts;
};

}  // namespace pgdual::routing::testing
