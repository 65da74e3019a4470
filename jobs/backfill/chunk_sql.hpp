#pragma once
// The SQL text of one chunk, built from a TablePlan. Pure, so the exact statements are unit
// tested. Key values travel as text and are cast back with the key column's type; they are
// inlined as literals because COPY (query) takes no parameters (the connections run with
// standard_conforming_strings on, where doubling the quote is the whole escaping).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "jobs/backfill/table_plan.hpp"

namespace pgdual::jobs::backfill {

// Row locks (FOR SHARE) on the next `rows` keys after `after` (empty: from the first row), and
// one row back: how many were locked and the text of the last key. FOR SHARE blocks every
// UPDATE and DELETE of those rows until the chunk's transaction ends.
std::string lock_next_chunk_sql(const TablePlan& plan, const std::vector<std::string>& after,
                                std::int64_t rows);

// COPY ... TO STDOUT of the rows with a key in (after, last].
std::string copy_out_sql(const TablePlan& plan, const std::vector<std::string>& after,
                         const std::vector<std::string>& last);
// COPY ... TO STDOUT of the whole table (the locked copy of a keyless table).
std::string copy_out_all_sql(const TablePlan& plan);

// The staging table on the new store, with the target's column types, emptied at each commit.
constexpr std::string_view kStageTable = "pg_temp.pgdual_backfill_stage";
std::string create_stage_sql(const TablePlan& plan);
std::string copy_in_stage_sql(const TablePlan& plan);
// Insert-if-absent from the stage into the target: a row already there (a live write, or a
// copy of an earlier run) wins. Identity columns keep the old store's values.
std::string merge_stage_sql(const TablePlan& plan);
// The locked copy writes the target directly.
std::string copy_in_target_sql(const TablePlan& plan);

}  // namespace pgdual::jobs::backfill
