#pragma once
// What marks a replication object as pgdual's, and the advisory lock that serializes every
// change of one database's replication across pgdual instances (setup, teardown, cutover and
// rollback alike). Blocking libpq on the old store.

#include <libpq-fe.h>

#include <string>

#include "libpq/connection.hpp"

namespace pgdual::cdc {

// The COMMENT pgdual puts on its publications and subscriptions.
std::string owned_comment(const std::string& database);
// Whether an object's comment says pgdual made it (objects of our names without it are left
// alone).
bool is_owned(const std::string& comment);

// Takes the database's replication lock on the old store within a minute; false with `error`
// set otherwise (another instance holds it, the query failed, or `cancelled`).
bool lock_replication(PGconn* old_store, const std::string& database,
                      const pg::Cancelled& cancelled, std::string& error);
void unlock_replication(PGconn* old_store, const std::string& database,
                        const pg::Cancelled& cancelled);

}  // namespace pgdual::cdc
