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

// The key `rows` keys after `after` (empty: from the first row): the end of the next chunk.
// No row comes back when fewer are left; chunk_end_of_table_sql then gives the last key.
std::string next_chunk_end_sql(const TablePlan& plan, const std::vector<std::string>& after,
                               std::int64_t rows);
std::string chunk_end_of_table_sql(const TablePlan& plan, const std::vector<std::string>& after);

// COPY ... TO STDOUT of the rows with a key in (after, last], each locked FOR SHARE as it is
// read: no UPDATE or DELETE of a copied row can commit until the chunk's transaction ends, and
// a row some writer holds is read once that writer has committed (its newest version).
// Under an imported snapshot (`lock_rows` false: cdc's initial copy) the rows are read as the
// snapshot saw them, without locks: FOR SHARE would fail on a row changed since.
std::string copy_out_sql(const TablePlan& plan, const std::vector<std::string>& after,
                         const std::vector<std::string>& last, bool lock_rows = true);
// COPY ... TO STDOUT of the whole table (the locked copy of a keyless table).
std::string copy_out_all_sql(const TablePlan& plan);

// The staging table on the new store, with the target's column types, emptied at each commit.
constexpr std::string_view kStageTable = "pg_temp.pgdual_backfill_stage";
std::string create_stage_sql(const TablePlan& plan);
std::string copy_in_stage_sql(const TablePlan& plan);
// From the stage into the target: a row missing there is inserted; a row there that differs is
// overwritten with the locked old-store value (an upsert of the application that found no row
// on the new store made a different row there); an identical row is left alone.
// Its command tag counts both. Identity columns keep the old store's values.
std::string merge_stage_sql(const TablePlan& plan);
// How many staged rows the target has already (so the merge's count splits into inserted and
// overwritten; RETURNING xmax, the usual trick, is refused on a partitioned table). Exact
// while the chunk holds its locks: no write can add or remove one of these keys meanwhile.
std::string count_present_sql(const TablePlan& plan);
// After the merge: rows whose GENERATED ALWAYS identity columns (outside the key) differ from
// the old store's; no UPDATE may set those, so they are only counted.
std::string count_identity_differences_sql(const TablePlan& plan);
// The locked copy writes the target directly.
std::string copy_in_target_sql(const TablePlan& plan);

}  // namespace pgdual::jobs::backfill
