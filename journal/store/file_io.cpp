// FileJournal's frame format, state file and recovery scan (see the header for
// the layout and the torn-tail rule).

#include "journal/store/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "journal/record/bytes.hpp"
#include "journal/record/crc32c.hpp"
#include "journal/record/record.hpp"

namespace pgdual::journal::file_io {

namespace {

constexpr std::string_view kMagic = "PGJR";
constexpr std::string_view kStateHeader = "pgdual-journal-state 1";
constexpr std::size_t kMaxStateFile = 16u << 20;

// An intact frame at `offset` of `data`: its whole size, or 0.
std::size_t intact_frame_at(std::string_view data, std::size_t offset) {
  if (data.size() - offset < kFrameHeaderSize) return 0;
  auto length = parse_frame_header(data.substr(offset, kFrameHeaderSize));
  if (!length || *length > data.size() - offset - kFrameHeaderSize) return 0;
  if (!decode(data.substr(offset + kFrameHeaderSize, *length))) return 0;
  return kFrameHeaderSize + *length;
}

// The torn-tail rule: the bad frame at `offset` is the unfinished last append
// when the rest of the file is no longer than one frame can be and contains no
// intact frame.
bool is_torn_tail(int fd, std::uint64_t offset, std::uint64_t size, std::size_t max_record) {
  const std::uint64_t rest = size - offset;
  if (rest > kFrameHeaderSize + max_record) return false;
  std::string data;
  if (!pread_exact(fd, data, static_cast<std::size_t>(rest), static_cast<off_t>(offset))) {
    return false;
  }
  for (std::size_t at = data.find(kMagic, 1); at != std::string::npos;
       at = data.find(kMagic, at + 1)) {
    if (intact_frame_at(data, at) != 0) return false;
  }
  return true;
}

}  // namespace

std::string frame_header(std::uint32_t payload_length) {
  std::string header(kMagic);
  bytes::put_u32(header, payload_length);
  bytes::put_u32(header, crc32c(header));
  return header;
}

std::optional<std::uint32_t> parse_frame_header(std::string_view header) {
  if (header.size() != kFrameHeaderSize || header.substr(0, 4) != kMagic) return std::nullopt;
  if (crc32c(header.substr(0, 8)) != bytes::get_u32(header.substr(8))) return std::nullopt;
  return bytes::get_u32(header.substr(4, 4));
}

std::string errno_error(std::string_view what, const std::string& path) {
  const int saved = errno;
  return std::string(what) + " " + path + ": " + std::strerror(saved);
}

bool pwrite_all(int fd, std::string_view data, off_t offset) {
  while (!data.empty()) {
    const ssize_t written = ::pwrite(fd, data.data(), data.size(), offset);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(written));
    offset += written;
  }
  return true;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

bool pread_exact(int fd, std::string& out, std::size_t size, off_t offset) {
  out.resize(size);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t got = ::pread(fd, out.data() + done, size - done, offset + done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      if (got == 0) errno = EIO;  // the file is shorter than the index says
      return false;
    }
    done += static_cast<std::size_t>(got);
  }
  return true;
}

MaybeError fsync_directory(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("open", directory);
  MaybeError error;
  if (::fsync(fd) != 0) error = errno_error("fsync", directory);
  ::close(fd);
  return error;
}

MaybeError write_state(const std::string& directory, const JournalState& state) {
  std::ostringstream text;
  text << kStateHeader << "\nnext_id " << state.next_id << "\ndone_through " << state.done_through
       << "\ndone";
  for (std::uint64_t id : state.done_above) text << ' ' << id;
  text << '\n';
  const std::string temporary = directory + "/state.tmp", final_path = directory + "/state";
  const int fd = ::open(temporary.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return errno_error("open", temporary);
  MaybeError error;
  if (!write_all(fd, text.str())) {
    error = errno_error("write", temporary);
  } else if (::fsync(fd) != 0) {
    error = errno_error("fsync", temporary);
  }
  ::close(fd);
  if (error) return error;
  if (::rename(temporary.c_str(), final_path.c_str()) != 0) return errno_error("rename", temporary);
  return fsync_directory(directory);
}

MaybeError read_state(const std::string& directory, JournalState& state, bool& found) {
  const std::string path = directory + "/state";
  state = JournalState{};
  found = false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? MaybeError{} : errno_error("open", path);
  found = true;
  struct stat info {};
  std::string text;
  const bool ok = ::fstat(fd, &info) == 0 && info.st_size >= 0 &&
                  static_cast<std::uint64_t>(info.st_size) <= kMaxStateFile &&
                  pread_exact(fd, text, static_cast<std::size_t>(info.st_size), 0);
  ::close(fd);
  if (!ok) return "cannot read " + path;
  std::istringstream in(text);
  std::string header, key_next, key_through, key_done, rest;
  std::getline(in, header);
  in >> key_next >> state.next_id >> key_through >> state.done_through >> key_done;
  std::uint64_t id = 0;
  while (in >> id) state.done_above.insert(id);
  const bool well_formed =
      header == kStateHeader && key_next == "next_id" && key_through == "done_through" &&
      key_done == "done" && in.eof() && state.next_id > state.done_through &&
      (state.done_above.empty() || (*state.done_above.begin() > state.done_through &&
                                    *state.done_above.rbegin() < state.next_id));
  if (!well_formed) return "malformed journal state file " + path;
  return std::nullopt;
}

ScanResult scan_journal(int fd, const std::string& path, std::size_t max_record_bytes) {
  ScanResult result;
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    result.error = errno_error("stat", path);
    return result;
  }
  result.file_size = static_cast<std::uint64_t>(info.st_size);
  std::uint64_t offset = 0;
  std::string header, payload;
  while (offset < result.file_size) {
    const std::uint64_t left = result.file_size - offset;
    std::optional<JournalRecord> record;
    std::optional<std::uint32_t> length;
    if (left >= kFrameHeaderSize &&
        pread_exact(fd, header, kFrameHeaderSize, static_cast<off_t>(offset))) {
      length = parse_frame_header(header);
    }
    if (length && *length <= left - kFrameHeaderSize &&
        pread_exact(fd, payload, *length, static_cast<off_t>(offset + kFrameHeaderSize))) {
      record = decode(payload);
    }
    if (!record) {
      if (!is_torn_tail(fd, offset, result.file_size, max_record_bytes)) {
        result.error = "corrupt record at offset " + std::to_string(offset) + " of " + path +
                       " (intact records follow it; not skipping it)";
      }
      break;
    }
    if (!result.records.empty() && record->id <= result.records.back().id) {
      result.error = "record id " + std::to_string(record->id) + " out of order at offset " +
                     std::to_string(offset) + " of " + path;
      break;
    }
    const std::uint64_t frame_size = kFrameHeaderSize + *length;
    result.records.push_back({record->id, offset, frame_size, record->created_at});
    offset += frame_size;
  }
  result.valid_end = offset;
  return result;
}

bool copy_range(int in, int out, std::uint64_t from, std::uint64_t to) {
  constexpr std::uint64_t kChunk = 1u << 20;
  std::string chunk;
  for (std::uint64_t at = from; at < to; at += kChunk) {
    const std::uint64_t size = std::min(kChunk, to - at);
    if (!pread_exact(in, chunk, static_cast<std::size_t>(size), static_cast<off_t>(at))) {
      return false;
    }
    if (!pwrite_all(out, chunk, static_cast<off_t>(at - from))) return false;
  }
  return true;
}

}  // namespace pgdual::journal::file_io
