// The shadow-read hook with fake legs: no sockets, no servers. Each test drives the hook through
// its named callbacks in the orders the session can produce and checks what it asked of the legs,
// what it counted and what it logged.

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "metrics/metrics.hpp"
#include "protocol/messages.hpp"
#include "proxy/shadow/shadow_reads.hpp"

using namespace pgdual;
using namespace pgdual::proxy::shadow;

namespace {

struct FakeLegs final : ShadowLegs {
  bool usable = true;
  std::vector<std::pair<ShadowUnitId, std::shared_ptr<ResultCapture>>> secondary_runs, reruns;
  bool secondary_usable() const override { return usable; }
  void rerun_on_primary(ShadowUnitId unit, std::shared_ptr<ResultCapture> capture) override {
    reruns.emplace_back(unit, std::move(capture));
  }
  void run_on_secondary(ShadowUnitId unit, std::shared_ptr<ResultCapture> capture) override {
    secondary_runs.emplace_back(unit, std::move(capture));
  }
};

// One result set of single-column text rows, as a server sends it.
void reply(ResultCapture& capture, const std::vector<std::string>& values) {
  std::string wire;
  protocol::RowDescriptionField field;
  field.name = "v";
  field.type_oid = 25;
  protocol::append_row_description(wire, {field});
  for (const auto& value : values)
    protocol::append_data_row(wire, {std::optional<std::string>(value)});
  protocol::append_command_complete(wire, "SELECT " + std::to_string(values.size()));
  std::size_t offset = 0;
  while (offset < wire.size()) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(wire.data()) + offset;
    const std::uint32_t length = (std::uint32_t{p[1]} << 24) | (p[2] << 16) | (p[3] << 8) | p[4];
    capture.on_message(wire[offset], {p + 5, length - 4});
    offset += 1 + length;
  }
}

// The value of one series in the Prometheus exposition (0 when absent).
double series(const metrics::Metrics& metrics, const std::string& name_and_labels) {
  const std::string text = metrics.serialize();
  const auto at = text.find("\n" + name_and_labels + " ");
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + name_and_labels.size() + 2));
}

double reads(const metrics::Metrics& metrics, const std::string& result) {
  return series(metrics, "pgdual_shadow_reads_total{result=\"" + result + "\",table=\"public.t\"}");
}

struct Fixture {
  metrics::Metrics metrics{"test"};
  std::atomic<std::size_t> budget{0};
  FakeLegs legs;
  std::vector<std::string> logged;
  config::ShadowReadConfig settings;
  ShadowReads hook{
      metrics, budget, legs,
      ShadowReportContext{nullptr, [this](std::string_view line) { logged.emplace_back(line); },
                          [] { return std::string("4242"); }}};

  std::shared_ptr<ResultCapture> dispatch(ShadowUnitId unit) {
    return hook.on_dispatch(unit, "SELECT v FROM t WHERE id = 7", {"public.t", false}, settings,
                            CompareRules{});
  }
};

}  // namespace

TEST_CASE("a shadow read compares both replies once both are complete, in either order") {
  Fixture f;
  const bool primary_first = GENERATE(true, false);
  auto primary = f.dispatch(1);
  REQUIRE(primary);
  REQUIRE(f.legs.secondary_runs.size() == 1);
  CHECK(f.legs.reruns.empty());
  CHECK(f.budget == 1);
  auto secondary = f.legs.secondary_runs.front().second;
  reply(*primary, {"a", "b"});
  reply(*secondary, {"b", "a"});  // no ORDER BY: rows compare as a multiset
  if (primary_first) {
    f.hook.on_primary_done(1, 0.001);
    CHECK(f.hook.size() == 1);  // still waiting for the other side
    f.hook.on_secondary_result(1, 0.002);
  } else {
    f.hook.on_secondary_result(1, 0.002);
    CHECK(f.hook.size() == 1);
    f.hook.on_primary_done(1, 0.001);
  }
  CHECK(f.hook.empty());
  CHECK(f.budget == 0);
  CHECK(reads(f.metrics, "match") == 1);
  CHECK(reads(f.metrics, "mismatch") == 0);
  CHECK(f.logged.empty());
}

TEST_CASE("a differing reply is counted and logged with redacted values unless log_values full") {
  Fixture f;
  const bool full = GENERATE(false, true);
  f.settings.log_values = full ? config::LogValues::full : config::LogValues::redacted;
  auto primary = f.dispatch(3);
  reply(*primary, {"secret-old"});
  reply(*f.legs.secondary_runs.front().second, {"secret-new"});
  f.hook.on_primary_done(3, 0);
  f.hook.on_secondary_result(3, 0);
  CHECK(reads(f.metrics, "mismatch") == 1);
  REQUIRE_FALSE(f.logged.empty());
  const std::string& line = f.logged.front();
  CHECK(line.find("shadow_read_mismatch") != std::string::npos);
  CHECK(line.find("4242") != std::string::npos);  // the session it came from
  CHECK((line.find("secret-old") != std::string::npos) == full);
}

TEST_CASE("without a usable secondary a compare-mode read is skipped and nothing is sent") {
  Fixture f;
  f.legs.usable = false;
  CHECK_FALSE(f.dispatch(1));
  CHECK(f.legs.secondary_runs.empty());
  CHECK(f.hook.empty());
  CHECK(f.budget == 0);
  CHECK(reads(f.metrics, "skipped") == 1);
}

TEST_CASE("A/A mode re-runs on the primary, whatever the secondary's state") {
  Fixture f;
  f.legs.usable = false;
  f.settings.mode = config::ShadowMode::aa;
  auto primary = f.dispatch(5);
  REQUIRE(primary);
  REQUIRE(f.legs.reruns.size() == 1);
  CHECK(f.legs.reruns.front().first == 5);
  CHECK(f.legs.secondary_runs.empty());
  reply(*primary, {"x"});
  reply(*f.legs.reruns.front().second, {"x"});
  f.hook.on_primary_done(5, 0);
  f.hook.on_secondary_result(5, 0);
  CHECK(reads(f.metrics, "match") == 1);
}

TEST_CASE(
    "the instance's budget bounds the reads in flight and a finished read gives its share back") {
  Fixture f;
  f.settings.max_concurrent = 1;
  auto first = f.dispatch(1);
  REQUIRE(first);
  CHECK_FALSE(f.dispatch(2));  // over the budget
  CHECK(reads(f.metrics, "skipped") == 1);
  reply(*first, {});
  reply(*f.legs.secondary_runs.front().second, {});
  f.hook.on_primary_done(1, 0);
  f.hook.on_secondary_result(1, 0);
  CHECK(f.budget == 0);
  CHECK(f.dispatch(3));
}

TEST_CASE("a broken secondary abandons only the reads still waiting for it") {
  Fixture f;
  auto waiting = f.dispatch(1);  // the secondary has not answered
  auto answered = f.dispatch(2);
  f.hook.on_secondary_result(2, 0);  // the secondary answered; the primary is still running
  f.hook.on_leg_broken(true);
  CHECK(f.hook.size() == 1);
  CHECK(reads(f.metrics, "skipped") == 1);
  reply(*answered, {});
  reply(*f.legs.secondary_runs.back().second, {});
  f.hook.on_primary_done(2, 0);
  CHECK(reads(f.metrics, "match") == 1);
  CHECK(f.hook.empty());
  CHECK(f.budget == 0);
  // A reply for the abandoned read that arrives late changes nothing.
  f.hook.on_primary_done(1, 0);
  CHECK(reads(f.metrics, "skipped") == 1);
}

TEST_CASE("a lost primary abandons every read, A/A included") {
  Fixture f;
  f.settings.mode = config::ShadowMode::aa;
  f.dispatch(1);
  f.dispatch(2);
  f.hook.on_leg_broken(false);
  CHECK(f.hook.empty());
  CHECK(reads(f.metrics, "skipped") == 2);
  CHECK(f.budget == 0);
}

TEST_CASE("a timed-out read is skipped, not compared, and times out only once") {
  Fixture f;
  auto primary = f.dispatch(9);
  CHECK(f.hook.time_out(9));
  CHECK_FALSE(f.hook.time_out(9));
  CHECK_FALSE(f.hook.time_out(10));  // no such read
  reply(*primary, {"a"});
  reply(*f.legs.secondary_runs.front().second, {"b"});  // would differ, but is never compared
  f.hook.on_primary_done(9, 0);
  f.hook.on_secondary_result(9, 0);
  CHECK(reads(f.metrics, "skipped") == 1);
  CHECK(reads(f.metrics, "mismatch") == 0);
  CHECK(f.logged.empty());
}

TEST_CASE("a session that ends with reads in flight returns their budget") {
  metrics::Metrics metrics{"test"};
  std::atomic<std::size_t> budget{0};
  FakeLegs legs;
  config::ShadowReadConfig settings;
  {
    ShadowReads hook{metrics, budget, legs, ShadowReportContext{}};
    CHECK(hook.on_dispatch(1, "SELECT 1", {"(none)", false}, settings, CompareRules{}));
    CHECK(budget == 1);
  }
  CHECK(budget == 0);
}
