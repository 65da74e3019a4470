// Tests of cdc/setup.hpp's pure parts: the CREATE SUBSCRIPTION statement (options, quoting of
// the connection string) and the connection string the new server uses to reach the old one
// (migration.cdc.publisher, else backends.old; application_name = the subscription's name).

#include <catch2/catch.hpp>
#include <string>

#include "cdc/exported_slot.hpp"
#include "cdc/setup.hpp"

using namespace pgdual;

TEST_CASE("CREATE SUBSCRIPTION: options, names and the connection string quoted") {
  const std::string sql = cdc::create_subscription_sql("pgdual_app", "host='old' password='p\\'w'",
                                                       cdc::SubscriptionStart::copy);
  CHECK(sql ==
        "CREATE SUBSCRIPTION \"pgdual_app\" CONNECTION E'host=''old'' password=''p\\\\''w''' "
        "PUBLICATION \"pgdual_app\" WITH (copy_data = true, create_slot = true, slot_name = "
        "'pgdual_app', streaming = on, synchronous_commit = 'local', disable_on_error = false)");
  CHECK(cdc::create_subscription_sql("pgdual_app", "host='old'", cdc::SubscriptionStart::no_copy)
            .find("WITH (copy_data = false, create_slot = true") != std::string::npos);
  // copy_data: pgdual: the backfill created the slot and copied under its snapshot.
  CHECK(cdc::create_subscription_sql("pgdual_app", "host='old'",
                                     cdc::SubscriptionStart::existing_slot)
            .find("WITH (copy_data = false, create_slot = false, slot_name = 'pgdual_app'") !=
        std::string::npos);
}

TEST_CASE("the subscription's connection: the publisher when set, else backends.old") {
  config::Config config;
  config.old_backend.host = "old.internal";
  config.old_backend.port = 5433;
  config.old_backend.user = "app";
  config.old_backend.password = "secret";
  config.old_backend.sslmode = config::SslMode::require;
  std::string conninfo = cdc::subscription_conninfo(config, "shop", "pgdual_shop");
  CHECK(conninfo.find("host='old.internal'") != std::string::npos);
  CHECK(conninfo.find("port='5433'") != std::string::npos);
  CHECK(conninfo.find("user='app'") != std::string::npos);
  CHECK(conninfo.find("password='secret'") != std::string::npos);
  CHECK(conninfo.find("dbname='shop'") != std::string::npos);
  CHECK(conninfo.find("sslmode='require'") != std::string::npos);
  CHECK(conninfo.find("application_name='pgdual_shop'") != std::string::npos);

  config::BackendConfig publisher;
  publisher.host = "10.0.0.5";
  publisher.user = "replicator";
  config.migration.cdc.publisher = publisher;
  conninfo = cdc::subscription_conninfo(config, "shop", "pgdual_shop");
  CHECK(conninfo.find("host='10.0.0.5'") != std::string::npos);
  CHECK(conninfo.find("user='replicator'") != std::string::npos);
  CHECK(conninfo.find("old.internal") == std::string::npos);
  CHECK(conninfo.find("dbname='shop'") != std::string::npos);
}

TEST_CASE("the initial copy imports the slot's exported snapshot by its quoted name") {
  CHECK(cdc::import_snapshot_sql("00000005-0000004C-1") ==
        "SET TRANSACTION SNAPSHOT '00000005-0000004C-1'");
}
