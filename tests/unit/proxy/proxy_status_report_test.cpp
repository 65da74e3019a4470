// The status report and its views (proxy/admin/status/, proxy/admin/console/console_commands):
// built from hand-made metric views and looks, rendered as JSON, text and console result sets.

#include <catch2/catch.hpp>

#include "protocol/backend_messages.hpp"
#include "protocol/frame_decoder.hpp"
#include "proxy/admin/console/console_commands.hpp"
#include "proxy/admin/status/status_json.hpp"
#include "proxy/admin/status/status_text.hpp"

using namespace pgdual;
using namespace pgdual::proxy;
using metrics::MetricSeries;

namespace {

struct Fixture {
  config::Config config;
  metrics::MetricView view;
  std::shared_ptr<cutover::StatusLook> look = std::make_shared<cutover::StatusLook>();
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();

  Fixture() {
    config.migration.phase = config::Phase::dual_write;
    config.migration.tables["public.orders"] = config::Phase::shadow_read;
    view.add("pgdual_build_info", {{{"version", "9.9"}}, 1});
    view.add("pgdual_phase_info",
             {{{"scope", "table"}, {"name", "public.orders"}, {"phase", "shadow_read"}}, 1});
    view.add("pgdual_phase_info",
             {{{"scope", "default"}, {"name", ""}, {"phase", "dual_write"}}, 1});
    view.add("pgdual_backend_up", {{{"backend", "old"}}, 1});
    view.add("pgdual_backend_up", {{{"backend", "new"}}, 0});
    view.add("pgdual_writes_total", {{{"backend", "old"}, {"result", "ok"}}, 40});
    view.add("pgdual_writes_total", {{{"backend", "new"}, {"result", "error"}}, 2});
    view.add("pgdual_secondary_failures_total", {{{"type", "timeout"}}, 3});
    // Backfill of public.items: 250 of an estimated 1000 rows, at 50 rows/s: 750 rows, 15 s left.
    view.add("pgdual_backfill_progress_ratio", {{{"table", "public.items"}}, 0.25});
    view.add("pgdual_backfill_rows_total",
             {{{"table", "public.items"}, {"result", "copied"}}, 200});
    view.add("pgdual_backfill_rows_total",
             {{{"table", "public.items"}, {"result", "skipped"}}, 50});
    view.add("pgdual_backfill_rows_per_second", {{{"table", "public.items"}}, 50});
    view.add("pgdual_backfill_rows_remaining", {{{"table", "public.items"}}, 750});
    view.add("pgdual_backfill_state", {{{"table", "public.items"}, {"state", "copying"}}, 1});
    view.add("pgdual_backfill_state", {{{"table", "public.items"}, {"state", "done"}}, 0});
    // Shadow reads of public.orders: 3 columns differ, the most often first.
    view.add("pgdual_shadow_reads_total", {{{"table", "public.orders"}, {"result", "match"}}, 98});
    view.add("pgdual_shadow_reads_total",
             {{{"table", "public.orders"}, {"result", "mismatch"}}, 2});
    view.add("pgdual_shadow_match_rate", {{{"table", "public.orders"}}, 0.98});
    for (const auto& [column, count] : std::vector<std::pair<std::string, double>>{
             {"total", 5}, {"note", 1}, {"updated_at", 7}, {"id", 2}}) {
      view.add("pgdual_shadow_field_mismatches_total",
               {{{"table", "public.orders"}, {"column", column}}, count});
    }
    view.add("pgdual_reconciliation_unresolved", {{{"table", "public.orders"}}, 4});
    view.add("pgdual_journal_depth_records", {{}, 12});
    view.add("pgdual_cdc_lag_bytes", {{{"database", "shop"}}, 2048});
    view.add("pgdual_cdc_ready", {{{"database", "shop"}}, 1});

    look->taken = now - std::chrono::seconds(4);
    look->gate.databases = {"shop"};
    look->gate.criteria = {{"shadow_match_rate", "", false, "98.00% of 100", ">= 99.9%", "samples"},
                           {"backfill", "shop", true, "3 of 3 tables copied", "all", "new store"}};
    cutover::InstanceSample me, other, gone;
    me.instance = "pod-a:1";
    me.phase = "dual_write";
    me.age_seconds = 1;
    me.journal_depth = 0;
    other.instance = "pod-b:7";
    other.phase = "prepare";
    other.age_seconds = 60;
    gone = other;
    gone.instance = "pod-c:9";
    gone.stopped = true;
    look->gate.members = {me, other, gone};
  }

  status::StatusReport build() {
    status::StatusInputs in;
    in.config = &config;
    in.metrics = &view;
    in.look = look;
    in.instance = "pod-a:1";
    in.started_at = now - std::chrono::seconds(90);
    in.now = now;
    return status::build_status(in);
  }
};

const status::TableStatus& table(const status::StatusReport& r, const std::string& name) {
  for (const auto& t : r.tables) {
    if (t.table == name) return t;
  }
  FAIL("no table " << name);
  throw;
}

}  // namespace

TEST_CASE("status report: phases, stores, backfill ETA, top mismatches, checklist, fleet",
          "[proxy]") {
  Fixture f;
  const auto r = f.build();
  CHECK(r.version == "9.9");
  CHECK(r.uptime_seconds == Approx(90));
  CHECK(r.phase == "dual_write");
  CHECK(r.primary == "old");
  CHECK(r.secondary == "new");
  CHECK(r.old_up);
  CHECK_FALSE(r.new_up);
  CHECK(r.writes_ok_old == 40);
  CHECK(r.writes_error_new == 2);
  CHECK(r.journal_depth_records == 12);
  REQUIRE(r.replication.size() == 1);
  CHECK(r.replication[0].bytes == 2048);
  CHECK(r.replication[0].ready);

  const auto& items = table(r, "public.items");
  CHECK(items.phase == "dual_write");  // no override: the default
  CHECK(items.backfill_state == "copying");
  CHECK(items.backfill_rows == 250);
  REQUIRE(items.backfill_eta_seconds);
  CHECK(*items.backfill_eta_seconds == Approx(15));

  const auto& orders = table(r, "public.orders");
  CHECK(orders.phase == "shadow_read");
  CHECK(orders.backfill_state.empty());
  REQUIRE(orders.match_rate);
  CHECK(*orders.match_rate == Approx(0.98));
  REQUIRE(orders.top_mismatches.size() == 3);
  CHECK(orders.top_mismatches[0].column == "updated_at");
  CHECK(orders.top_mismatches[1].column == "total");
  CHECK(orders.top_mismatches[2].column == "id");
  CHECK(orders.unresolved == 4);

  CHECK(r.cutover_looked);
  CHECK(r.cutover_look_age_seconds == Approx(4).margin(0.01));
  CHECK_FALSE(r.cutover_ready);
  REQUIRE(r.checklist.size() == 2);
  CHECK(r.checklist[1].ok);
  REQUIRE(r.instances.size() == 3);
  CHECK(r.instances[0].this_instance);
  CHECK(r.instances[0].state == "live");
  CHECK(r.instances[0].heartbeat_age_seconds == Approx(5).margin(0.01));  // 1 s + the look's 4
  CHECK(r.instances[1].state == "stale");
  CHECK(r.instances[2].state == "stopped");
}

TEST_CASE("status report without a look, and the ETA's edges", "[proxy]") {
  Fixture f;
  f.look = nullptr;
  const auto r = f.build();
  CHECK_FALSE(r.cutover_looked);
  CHECK(r.instances.empty());
  CHECK(status::to_text(r).find("CUTOVER  not measured yet") != std::string::npos);
  CHECK(status::to_json(r).find("\"age_seconds\":null") != std::string::npos);

  CHECK(status::eta_seconds("done", std::nullopt, 0) == 0.0);
  CHECK_FALSE(status::eta_seconds("copying", std::nullopt, 5));  // no estimate yet
  CHECK_FALSE(status::eta_seconds("copying", 10.0, 0));          // no rate
  CHECK_FALSE(status::eta_seconds("paused", 10.0, 5));           // a stale rate
  CHECK_FALSE(status::eta_seconds("failed", 10.0, 5));
  CHECK(status::eta_seconds("copying", 100.0, 10) == Approx(10));
}

TEST_CASE("status JSON escapes names and writes null for unknown numbers", "[proxy]") {
  Fixture f;
  f.view.add("pgdual_reconciliation_unresolved", {{{"table", "public.\"we\"\"ird\n<b>\""}}, 1});
  f.view.add("pgdual_shadow_match_rate", {{{"table", "public.nan"}}, std::nan("")});
  const auto json = status::to_json(f.build());
  CHECK(json.find(R"("table":"public.\"we\"\"ird\u000a<b>\"")") != std::string::npos);
  CHECK(json.find("\"phase\":\"dual_write\"") != std::string::npos);
  CHECK(json.find("nan") == std::string::npos);
  CHECK(json.find("\"eta_seconds\":15") != std::string::npos);
  CHECK(json.front() == '{');
  CHECK(json.back() == '\n');
  // Balanced brackets outside strings: a cheap structural check.
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') ++i;
      if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
    REQUIRE(depth >= 0);
  }
  CHECK(depth == 0);
}

TEST_CASE("status text: aligned tables and human figures", "[proxy]") {
  CHECK(status::aligned_table({{"A", "BB"}, {"long", "x"}}) == "A     BB\nlong  x\n");
  // A name cannot drive the terminal: ESC and newlines become '?'.
  CHECK(status::printable("a\x1b[2Jb\nc") == "a?[2Jb?c");
  CHECK(status::aligned_table({{"x\ty"}}) == "x?y\n");
  CHECK(status::human_bytes(512) == "512 B");
  CHECK(status::human_bytes(3 * 1024 * 1024) == "3.0 MiB");
  CHECK(status::human_duration(4.25) == "4.2s");
  CHECK(status::human_duration(190) == "3m10s");
  CHECK(status::human_duration(7300) == "2h01m");
  CHECK(status::human_percent(0.9995) == "99.95%");
  Fixture f;
  const auto text = status::to_text(f.build());
  CHECK(text.find("phase dual_write  strategy sync  primary old  secondary new") !=
        std::string::npos);
  CHECK(text.find("copying 25.00%") != std::string::npos);
  CHECK(text.find("updated_at(7), total(5), id(2)") != std::string::npos);
  CHECK(text.find("pod-a:1 (this)") != std::string::npos);
  CHECK(text.find("new DOWN") != std::string::npos);
}

TEST_CASE("console: commands parse case-insensitively, one per query", "[proxy]") {
  console::ConsoleError error;
  auto c = console::parse_command("  show   phases ; ", error);
  REQUIRE(c);
  CHECK(c->verb == console::Verb::show);
  CHECK(c->object == "PHASES");
  CHECK(console::parse_command("reload", error)->verb == console::Verb::reload);
  CHECK(console::parse_command("Pause;", error)->verb == console::Verb::pause);
  CHECK(console::parse_command("RESUME", error)->verb == console::Verb::resume);
  CHECK(console::parse_command(";", error)->verb == console::Verb::empty);
  CHECK_FALSE(console::parse_command("SELECT 1", error));
  CHECK(error.sqlstate == "42601");
  CHECK_FALSE(console::parse_command("SHOW STATS; RELOAD", error));
  CHECK(error.message.find("one command") != std::string::npos);
  CHECK_FALSE(console::parse_command("SHOW", error));
  // A driver's session settings are accepted and change nothing; any other SET is refused.
  CHECK(console::parse_command("SET extra_float_digits = 3", error)->verb == console::Verb::set);
  CHECK(console::parse_command("set application_name='x'", error)->verb == console::Verb::set);
  CHECK_FALSE(console::parse_command("SET migration.phase = cutover", error));
}

TEST_CASE("console: SHOW result sets and their wire form", "[proxy]") {
  Fixture f;
  const auto report = f.build();
  for (const auto& object : console::show_objects()) {
    const auto result = console::show(object, report, f.config);
    REQUIRE(result);
    for (const auto& row : result->rows) CHECK(row.size() == result->columns.size());
  }
  CHECK_FALSE(console::show("NOTHING", report, f.config));

  const auto phases = *console::show("PHASES", report, f.config);
  REQUIRE(phases.rows.size() == 2);
  CHECK(phases.rows[0][0] == "default");  // the default first
  CHECK(phases.rows[0][3] == "old");
  const auto backfill = *console::show("BACKFILL", report, f.config);
  REQUIRE(backfill.rows.size() == 1);
  CHECK(backfill.rows[0][0] == "public.items");
  CHECK(backfill.rows[0][5] == "750");
  CHECK(backfill.rows[0][7] == "15");
  const auto cutover = *console::show("CUTOVER", report, f.config);
  CHECK(cutover.rows[0][0] == "(all)");
  CHECK(cutover.rows[0][2] == "no");
  const auto instances = *console::show("INSTANCES", report, f.config);
  CHECK(instances.rows[1][4] == std::nullopt);  // an unknown journal depth is NULL

  std::string wire;
  console::append_result_set(wire, phases);
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(wire.data());
  std::span<const std::uint8_t> rest(bytes, wire.size());
  std::vector<char> types;
  while (!rest.empty()) {
    const auto decoded = protocol::decode_frame(rest, false, 1 << 20);
    REQUIRE(decoded.status == protocol::DecodeStatus::ready);
    types.push_back(decoded.frame.type);
    if (decoded.frame.type == 'T') {
      const auto fields = protocol::parse_row_description(decoded.frame.payload);
      REQUIRE(fields);
      REQUIRE(fields->size() == 5);
      CHECK((*fields)[2].name == "phase");
      CHECK((*fields)[2].type_oid == 25);
    }
    rest = rest.subspan(decoded.frame.size);
  }
  CHECK(types == std::vector<char>{'T', 'D', 'D', 'C'});
}
