#pragma once
// The on-disk pieces of FileJournal, kept apart from its bookkeeping so each
// can be read (and checked) on its own:
//
//  - journal.log: frames [u32 magic "PGJR"][u32 payload length][u32 CRC-32C
//    of those 8 bytes][payload = encode(record)]. The header has its own CRC
//    so a corrupted length is told apart from a short (torn) last frame.
//  - state: the outcome watermark, a small text file replaced atomically
//    (write state.tmp, fsync, rename, fsync the directory):
//      pgdual-journal-state 1 / next_id N / done_through W / done a b c
//    next_id lives here too so ids are never reused after a purge or a
//    compaction emptied the journal: the secondary's applied_transactions
//    table remembers old ids, and a reused id would look already applied.
//  - scan_journal: the recovery pass of open(). A bad frame is a torn tail
//    (a crash during the last append: fsync per append means at most one
//    record can be incomplete) when what follows it is at most one record's
//    worth of bytes and holds no intact frame; anything else is corruption
//    in the middle, reported and never skipped.
//
// Plain POSIX calls; every function reports errors as text naming the file
// and errno's message.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace pgdual::journal::file_io {

using MaybeError = std::optional<std::string>;  // nullopt = success

inline constexpr std::size_t kFrameHeaderSize = 12;

inline std::string journal_path(const std::string& directory) { return directory + "/journal.log"; }

std::string frame_header(std::uint32_t payload_length);
// The payload length, or nullopt for a header with a wrong magic or CRC.
std::optional<std::uint32_t> parse_frame_header(std::string_view header);

// "<what> <path>: <strerror(errno)>"
std::string errno_error(std::string_view what, const std::string& path);
// Loops over short writes and EINTR.
bool pwrite_all(int fd, std::string_view data, off_t offset);
bool write_all(int fd, std::string_view data);
// Exactly `size` bytes at `offset`; false on error or end of file.
bool pread_exact(int fd, std::string& out, std::size_t size, off_t offset);
MaybeError fsync_directory(const std::string& directory);

struct JournalState {
  std::uint64_t next_id = 1;
  std::uint64_t done_through = 0;      // every id <= this is applied or dead
  std::set<std::uint64_t> done_above;  // applied or dead ids > done_through
  bool is_done(std::uint64_t id) const { return id <= done_through || done_above.count(id) > 0; }
};

MaybeError write_state(const std::string& directory, const JournalState& state);
// A missing file is the initial state (`found` false); an unreadable one is an
// error.
MaybeError read_state(const std::string& directory, JournalState& state, bool& found);

struct ScannedRecord {
  std::uint64_t id = 0;
  std::uint64_t offset = 0;
  std::uint64_t frame_size = 0;
  std::chrono::system_clock::time_point created_at;
};

struct ScanResult {
  std::vector<ScannedRecord> records;
  std::uint64_t valid_end = 0;  // where the intact frames end
  std::uint64_t file_size = 0;
  MaybeError error;  // corruption or I/O error: the journal cannot be used
  bool torn_tail() const { return !error && valid_end < file_size; }
};

ScanResult scan_journal(int fd, const std::string& path, std::size_t max_record_bytes);

// Copies [from, to) of `in` to the start of `out` (compaction).
bool copy_range(int in, int out, std::uint64_t from, std::uint64_t to);

}  // namespace pgdual::journal::file_io
