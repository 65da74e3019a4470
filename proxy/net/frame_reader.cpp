#include "proxy/net/frame_reader.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>

namespace pgdual::proxy {

namespace {
constexpr std::size_t kBlockSize = 64 * 1024;  // one read of a busy connection
constexpr std::size_t kFrameHeader = 5;
// Blocks kept for reuse per worker thread: enough for the connections a worker has busy at
// once; the rest go back to the allocator.
constexpr std::size_t kPooledBlocks = 64;
// Full reads in a row before the reader lets the worker's other sessions run.
constexpr int kReadsBeforeYield = 16;

std::vector<std::vector<std::uint8_t>>& block_pool() {
  thread_local std::vector<std::vector<std::uint8_t>> pool;
  return pool;
}

// Grows the buffer to hold the whole pending frame once its length is known.
std::size_t room_for_pending_frame(const std::vector<std::uint8_t>& buffer, std::size_t begin,
                                   std::size_t end, bool startup) {
  std::size_t needed = 4096;
  const std::size_t header = startup ? 4 : kFrameHeader;
  if (end - begin >= header) {
    const std::uint8_t* length_at = buffer.data() + begin + (startup ? 0 : 1);
    const std::size_t length = (std::size_t(length_at[0]) << 24) |
                               (std::size_t(length_at[1]) << 16) |
                               (std::size_t(length_at[2]) << 8) | std::size_t(length_at[3]);
    const std::size_t frame_end = begin + length + (startup ? 0 : 1);
    if (frame_end > end) needed = std::max(needed, frame_end - end);
  }
  return needed;
}
}  // namespace

FrameReader::FrameReader(PgStream& stream, std::size_t max_message_size, bool check_frontend_types)
    : stream_(stream),
      max_message_size_(max_message_size),
      check_frontend_types_(check_frontend_types) {}

std::optional<protocol::Frame> FrameReader::next() {
  if (failed_ || begin_ == end_) return std::nullopt;
  auto result = protocol::decode_frame(std::span(buffer_.data() + begin_, end_ - begin_),
                                       startup_phase_, max_message_size_, check_frontend_types_);
  if (result.status == protocol::DecodeStatus::error) {
    // Message boundaries are lost: nothing after this can be trusted.
    failed_ = true;
    error_ = result.error;
    return std::nullopt;
  }
  if (result.status == protocol::DecodeStatus::need_more) return std::nullopt;
  last_frame_ = begin_;
  begin_ += result.frame.size;
  return result.frame;
}

std::string_view FrameReader::take_raw() {
  std::string_view raw(reinterpret_cast<const char*>(buffer_.data()) + raw_begin_,
                       begin_ - raw_begin_);
  raw_begin_ = begin_;
  return raw;
}

std::string_view FrameReader::take_raw_before_last() {
  const std::size_t end = std::max(raw_begin_, last_frame_);
  std::string_view raw(reinterpret_cast<const char*>(buffer_.data()) + raw_begin_,
                       end - raw_begin_);
  raw_begin_ = end;
  return raw;
}

void FrameReader::release_buffer_if_idle() {
  if (buffer_.empty() || end_ != begin_ || raw_begin_ != begin_) return;
  begin_ = raw_begin_ = last_frame_ = end_ = 0;
  auto& pool = block_pool();
  if (buffer_.size() == kBlockSize && pool.size() < kPooledBlocks) {
    pool.push_back(std::move(buffer_));
  }
  buffer_ = {};
}

void FrameReader::take_buffer(std::size_t needed) {
  if (buffer_.empty()) {
    auto& pool = block_pool();
    if (!pool.empty()) {
      buffer_ = std::move(pool.back());
      pool.pop_back();
    } else {
      buffer_.resize(kBlockSize);
    }
  }
  if (buffer_.size() - end_ < needed) buffer_.resize(std::max(buffer_.size() * 2, end_ + needed));
}

boost::asio::awaitable<FrameReader::Status> FrameReader::fill() {
  for (;;) {
    if (failed_) co_return Status::protocol_error;
    // Peek whether a complete frame is already buffered (without consuming it).
    if (begin_ < end_) {
      auto peek = protocol::decode_frame(std::span(buffer_.data() + begin_, end_ - begin_),
                                         startup_phase_, max_message_size_, check_frontend_types_);
      if (peek.status == protocol::DecodeStatus::ready) co_return Status::ok;
      if (peek.status == protocol::DecodeStatus::error) {
        failed_ = true;
        error_ = peek.error;
        co_return Status::protocol_error;
      }
    }
    // Drop what was handed out and taken, then make room for the frame.
    if (raw_begin_ == begin_ && begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = raw_begin_ = last_frame_ = 0;
    }
    const Status status =
        stream_.reads_synchronously() ? co_await read_plain() : co_await read_async();
    if (status != Status::ok) co_return status;
  }
}

namespace {
FrameReader::Status status_of(const boost::system::error_code& ec) {
  if (ec == boost::asio::error::operation_aborted) return FrameReader::Status::cancelled;
  return (ec == boost::asio::error::eof || ec == boost::asio::ssl::error::stream_truncated)
             ? FrameReader::Status::closed
             : FrameReader::Status::io_error;
}
}  // namespace

boost::asio::awaitable<FrameReader::Status> FrameReader::read_plain() {
  // Wait first unless the last read suggested more is queued: a request-response peer has
  // usually sent nothing yet, and a read that finds nothing costs a system call for nothing.
  // While waiting, an idle reader holds no buffer.
  if (!more_likely_) {
    reads_without_wait_ = 0;
    release_buffer_if_idle();
    const auto ec = co_await stream_.wait_readable();
    if (ec) co_return status_of(ec);
  } else if (++reads_without_wait_ >= kReadsBeforeYield) {
    // A bulk stream (a large result, COPY) keeps the kernel's buffer full, and reads and
    // writes that never suspend would keep the other sessions of this worker waiting: let
    // them have a turn now and then.
    reads_without_wait_ = 0;
    co_await boost::asio::post(co_await boost::asio::this_coro::executor,
                               boost::asio::use_awaitable);
  }
  take_buffer(room_for_pending_frame(buffer_, begin_, end_, startup_phase_));
  const std::size_t room = buffer_.size() - end_;
  boost::system::error_code ec;
  const std::size_t n = stream_.read_now(std::span(buffer_.data() + end_, room), ec);
  if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
    more_likely_ = false;  // readable was stale (another reader?): wait again
    co_return Status::ok;
  }
  if (ec) co_return status_of(ec);
  more_likely_ = n == room;
  end_ += n;
  co_return Status::ok;
}

boost::asio::awaitable<FrameReader::Status> FrameReader::read_async() {
  take_buffer(room_for_pending_frame(buffer_, begin_, end_, startup_phase_));
  auto [ec, n] =
      co_await stream_.read_some(std::span(buffer_.data() + end_, buffer_.size() - end_));
  if (ec) co_return status_of(ec);
  end_ += n;
  co_return Status::ok;
}

}  // namespace pgdual::proxy
