// Tests of proxy/backend/secondary_leg.hpp. The leg talks to a tiny fake
// backend on a loopback TCP connection (127.0.0.1, port 0) run on the test's
// io_context: it records every Query (and every Sync) it receives and answers
// each with CommandComplete (the tag is the query text) and ReadyForQuery, or
// with an ErrorResponse for a text starting with "FAIL". Answers go out
// automatically or, for tests that need the leg to wait, only when the test
// says so. It stands in for a socket peer; the integration tests use real
// PostgreSQL. Every wait is bounded in time, and every test stops what it started.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/messages.hpp"
#include "proxy/backend/backend_connection.hpp"
#include "proxy/backend/secondary_leg.hpp"
#include "proxy/net/frame_reader.hpp"
#include "proxy/net/pg_stream.hpp"

using namespace pgdual;
using namespace pgdual::proxy;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

asio::awaitable<void> pause(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(duration);
  co_await timer.async_wait(asio::use_awaitable);
}

// Polls `condition` every millisecond for at most `limit`. A template, not std::function: the
// lambda passed is trivially copyable, and GCC 12 mishandles non-trivial temporaries in
// co_await expressions.
template <typename Condition>
asio::awaitable<bool> until(Condition condition, std::chrono::milliseconds limit = 5s) {
  const auto deadline = Clock::now() + limit;
  while (!condition()) {
    if (Clock::now() >= deadline) co_return false;
    co_await pause(1ms);
  }
  co_return true;
}

std::string query(std::string_view sql) { return protocol::query_message(sql); }

// The backend end of the connection.
class FakeBackend {
 public:
  explicit FakeBackend(tcp::socket socket)
      : stream_(std::move(socket)), reader_(stream_, 1 << 20, true) {}

  // What arrived, in order: each Query's text, "Sync" for each Sync.
  const std::vector<std::string>& received() const { return received_; }
  bool saw_eof() const { return eof_; }
  bool serving() const { return serving_; }
  // Off: requests are only recorded; answer() sends the replies.
  void set_auto_answer(bool on) { auto_answer_ = on; }

  asio::awaitable<void> serve() {
    serving_ = true;
    for (;;) {
      auto frame = reader_.next();
      if (!frame) {
        const auto status = co_await reader_.fill();
        if (status != FrameReader::Status::ok) break;
        continue;
      }
      if (frame->type == protocol::frontend::kQuery) {
        auto sql = protocol::parse_query(frame->payload);
        received_.push_back(sql ? std::string(*sql) : "<malformed>");
      } else if (frame->type == protocol::frontend::kSync) {
        received_.push_back("Sync");
      } else if (frame->type == protocol::frontend::kTerminate) {
        break;
      }
      reader_.take_raw();
      if (auto_answer_) co_await answer(received_.size());
    }
    eof_ = true;
    serving_ = false;
  }

  // Answers up to `count` of the requests not answered yet, in order, in one write.
  asio::awaitable<void> answer(std::size_t count) {
    std::string out;
    for (; count > 0 && answered_ < received_.size(); --count) {
      const std::string& sql = received_[answered_++];
      if (sql.rfind("FAIL", 0) == 0) {
        protocol::append_error_response(out, protocol::make_error("42P01", sql));
        protocol::append_ready_for_query(out, 'I');
        continue;
      }
      protocol::append_command_complete(out, sql);
      protocol::append_ready_for_query(out, sql == "BEGIN" ? 'T' : 'I');
    }
    if (out.empty()) co_return;
    const auto ec = co_await stream_.write_all(out);
    if (ec) eof_ = true;
  }

  // Bytes the leg did not ask for (to see it notice).
  asio::awaitable<void> send_raw(const std::string& bytes) {
    const auto ec = co_await stream_.write_all(bytes);
    if (ec) eof_ = true;
  }

  void close() { stream_.close(); }

 private:
  PgStream stream_;
  FrameReader reader_;
  std::vector<std::string> received_;
  std::size_t answered_ = 0;
  bool auto_answer_ = true;
  bool eof_ = false;
  bool serving_ = false;
};

struct Harness {
  asio::io_context io;
  config::BackendConfig backend_config;
  std::unique_ptr<FakeBackend> fake;
  std::unique_ptr<SecondaryLeg> leg;
  std::vector<SecondaryResult> results;
  bool pumping = false;

  Harness() {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    tcp::socket client(io);
    client.connect(acceptor.local_endpoint());
    fake = std::make_unique<FakeBackend>(acceptor.accept());
    leg = std::make_unique<SecondaryLeg>(std::make_unique<BackendConnection>(
        std::move(client), backend_config, metrics::BackendRole::new_backend));
  }

  std::vector<UnitId> result_units() const {
    std::vector<UnitId> units;
    for (const auto& result : results) units.push_back(result.unit);
    return units;
  }

  // Runs the fake backend, the leg's pump and `body` until body ends (at most `limit`); then
  // breaks the leg and closes the fake so that both loops end before the test does.
  void run(std::function<asio::awaitable<void>()> body, std::chrono::milliseconds limit = 10s) {
    asio::co_spawn(io, fake->serve(), asio::detached);
    pumping = true;
    asio::co_spawn(
        io,
        [this]() -> asio::awaitable<void> {
          auto on_result = [this](const SecondaryResult& result) { results.push_back(result); };
          co_await leg->pump(on_result);
          pumping = false;
        },
        asio::detached);
    bool done = false;
    std::exception_ptr failure;
    asio::co_spawn(io, body(), [&](std::exception_ptr e) {
      done = true;
      failure = e;
      io.stop();  // the fake and the pump still wait for bytes: do not run out the limit
    });
    io.run_for(limit);
    leg->mark_broken("test over");
    fake->close();
    for (int i = 0; i < 200 && (pumping || fake->serving() || !done); ++i) {
      io.restart();
      io.run_for(10ms);
    }
    REQUIRE(done);
    CHECK_FALSE(pumping);
    CHECK_FALSE(fake->serving());
    if (failure) std::rethrow_exception(failure);
  }
};

using Strings = std::vector<std::string>;
using Units = std::vector<UnitId>;

}  // namespace

TEST_CASE("secondary leg: ready entries go out in order and their results come back in order") {
  Harness h;
  h.run([&]() -> asio::awaitable<void> {
    h.leg->enqueue(1, EntryPurpose::body, query("INSERT 1"), true);
    h.leg->enqueue(2, EntryPurpose::body, query("BEGIN"), true);
    h.leg->enqueue(3, EntryPurpose::body, query("UPDATE 3"), true);
    CHECK(h.leg->outstanding() == 3);
    CHECK(h.leg->last_sendable_unit() == UnitId{3});
    co_await h.leg->flush();
    const bool through = co_await h.leg->wait_through(3, 5s);
    CHECK(through);
    CHECK(h.fake->received() == Strings{"INSERT 1", "BEGIN", "UPDATE 3"});
    CHECK(h.result_units() == Units{1, 2, 3});
    REQUIRE(h.results.size() == 3);
    CHECK(h.results[0].command_tags == Strings{"INSERT 1"});
    CHECK(h.results[1].status == 'T');
    CHECK(h.results[2].status == 'I');
    for (const auto& result : h.results) {
      CHECK(result.purpose == EntryPurpose::body);
      CHECK_FALSE(result.error);
      CHECK(result.seconds >= 0);
    }
    CHECK(h.leg->outstanding() == 0);
    CHECK(h.leg->done_through(3));
    CHECK_FALSE(h.leg->last_sendable_unit());
  });
}

TEST_CASE("secondary leg: a held entry is not sent and holds back what follows") {
  Harness h;
  h.run([&]() -> asio::awaitable<void> {
    h.leg->enqueue(1, EntryPurpose::body, query("A"), true);
    h.leg->enqueue(2, EntryPurpose::body, query("B held"), false);
    h.leg->enqueue(3, EntryPurpose::body, query("C"), true);
    CHECK(h.leg->last_sendable_unit() == UnitId{1});
    co_await h.leg->flush();
    const bool first = co_await h.leg->wait_through(1, 5s);
    CHECK(first);
    // Unit 3 is ready, but it must not overtake unit 2, which waits for the primary.
    const bool all = co_await h.leg->wait_through(3, 100ms);
    CHECK_FALSE(all);
    co_await h.leg->flush();
    co_await pause(20ms);
    CHECK(h.fake->received() == Strings{"A"});
    CHECK(h.result_units() == Units{1});
    CHECK_FALSE(h.leg->sent_unanswered(2));
    CHECK_FALSE(h.leg->sent_unanswered(3));
    CHECK(h.leg->outstanding() == 2);
    CHECK_FALSE(h.leg->done_through(2));
    CHECK(h.leg->done_through(1));
    CHECK_FALSE(h.leg->last_sendable_unit());
    // The primary accepted unit 2 (with the bytes it actually ran): both go now, in order.
    h.leg->resolve(2, EntryPurpose::body, query("B as run"));
    CHECK(h.leg->last_sendable_unit() == UnitId{3});
    co_await h.leg->flush();
    const bool later = co_await h.leg->wait_through(3, 5s);
    CHECK(later);
    CHECK(h.fake->received() == Strings{"A", "B as run", "C"});
    CHECK(h.result_units() == Units{1, 2, 3});
  });
}

TEST_CASE("secondary leg: resolve without bytes drops the entry, resolve_keep sends it as is") {
  Harness h;
  h.run([&]() -> asio::awaitable<void> {
    h.leg->enqueue(1, EntryPurpose::body, query("A dropped"), false);
    h.leg->enqueue(2, EntryPurpose::body, query("B kept"), false);
    h.leg->enqueue(3, EntryPurpose::body, query("C replaced"), false);
    // Unit 2 is ready, but unit 1 before it still waits: nothing is sendable.
    h.leg->resolve_keep(2, EntryPurpose::body);
    CHECK_FALSE(h.leg->last_sendable_unit());
    co_await h.leg->flush();
    co_await pause(20ms);
    CHECK(h.fake->received().empty());
    // The primary failed unit 1: it never reaches the secondary.
    h.leg->resolve(1, EntryPurpose::body, std::nullopt);
    CHECK(h.leg->outstanding() == 2);
    CHECK(h.leg->done_through(1));
    CHECK(h.leg->last_sendable_unit() == UnitId{2});
    co_await h.leg->flush();
    const bool two = co_await h.leg->wait_through(2, 5s);
    CHECK(two);
    CHECK(h.fake->received() == Strings{"B kept"});
    h.leg->resolve(3, EntryPurpose::body, query("C as run"));
    co_await h.leg->flush();
    const bool three = co_await h.leg->wait_through(3, 5s);
    CHECK(three);
    CHECK(h.fake->received() == Strings{"B kept", "C as run"});
    CHECK(h.result_units() == Units{2, 3});
    REQUIRE(h.results.size() == 2);
    CHECK(h.results[1].command_tags == Strings{"C as run"});
  });
}

TEST_CASE("secondary leg: resolve matches the unit and the purpose, and only held entries") {
  Harness h;
  h.run([&]() -> asio::awaitable<void> {
    h.leg->enqueue(1, EntryPurpose::body, query("body"), false);
    h.leg->enqueue(1, EntryPurpose::control, query("control"), false);
    // A resolve for another unit, or for the control entry, leaves the body held.
    h.leg->resolve(2, EntryPurpose::body, query("other unit"));
    h.leg->resolve_keep(1, EntryPurpose::control);
    CHECK_FALSE(h.leg->last_sendable_unit());
    h.leg->resolve(1, EntryPurpose::body, query("body as run"));
    // A second resolve of an entry that is ready already changes nothing.
    h.leg->resolve(1, EntryPurpose::body, query("too late"));
    h.leg->resolve(1, EntryPurpose::body, std::nullopt);
    CHECK(h.leg->outstanding() == 2);
    co_await h.leg->flush();
    const bool through = co_await h.leg->wait_through(1, 5s);
    CHECK(through);
    CHECK(h.fake->received() == Strings{"body as run", "control"});
    // pgdual's own control statement succeeded: no result for it.
    CHECK(h.result_units() == Units{1});
    REQUIRE(h.results.size() == 1);
    CHECK(h.results[0].purpose == EntryPurpose::body);
  });
}

TEST_CASE("secondary leg: several entries released at once go out together, in order") {
  Harness h;
  h.fake->set_auto_answer(false);
  h.run([&]() -> asio::awaitable<void> {
    for (UnitId unit = 1; unit <= 5; ++unit) {
      h.leg->enqueue(unit, EntryPurpose::body, query("W" + std::to_string(unit)), false);
    }
    for (UnitId unit = 5; unit >= 1; --unit) h.leg->resolve_keep(unit, EntryPurpose::body);
    CHECK(h.leg->last_sendable_unit() == UnitId{5});
    co_await h.leg->flush();
    // One flush sent all five before any reply.
    for (UnitId unit = 1; unit <= 5; ++unit) CHECK(h.leg->sent_unanswered(unit));
    CHECK(h.leg->outstanding() == 5);
    const bool arrived = co_await until([&] { return h.fake->received().size() == 5; });
    CHECK(arrived);
    CHECK(h.fake->received() == Strings{"W1", "W2", "W3", "W4", "W5"});
    CHECK(h.results.empty());
    co_await h.fake->answer(2);
    const bool two = co_await h.leg->wait_through(2, 5s);
    CHECK(two);
    CHECK(h.result_units() == Units{1, 2});
    CHECK_FALSE(h.leg->done_through(3));
    CHECK(h.leg->sent_unanswered(3));
    co_await h.fake->answer(3);
    const bool five = co_await h.leg->wait_through(5, 5s);
    CHECK(five);
    CHECK(h.result_units() == Units{1, 2, 3, 4, 5});
    for (std::size_t i = 0; i < h.results.size(); ++i) {
      CHECK(h.results[i].command_tags == Strings{"W" + std::to_string(i + 1)});
    }
  });
}

TEST_CASE("secondary leg: wait_through times out while the secondary does not answer") {
  Harness h;
  h.fake->set_auto_answer(false);
  h.run([&]() -> asio::awaitable<void> {
    h.leg->enqueue(1, EntryPurpose::body, query("slow"), true);
    co_await h.leg->flush();
    const auto started = Clock::now();
    const bool early = co_await h.leg->wait_through(1, 80ms);
    const auto waited = Clock::now() - started;
    CHECK_FALSE(early);
    CHECK(waited >= 80ms);
    CHECK(waited < 3s);
    CHECK(h.leg->sent_unanswered(1));
    CHECK_FALSE(h.leg->broken());
    // A zero timeout on something not done returns false at once.
    const bool now = co_await h.leg->wait_through(1, 0ms);
    CHECK_FALSE(now);
    // Once answered, the same wait succeeds (woken by the reply, well before its timeout).
    const bool arrived = co_await until([&] { return h.fake->received().size() == 1; });
    CHECK(arrived);
    co_await h.fake->answer(1);
    const auto again = Clock::now();
    const bool done = co_await h.leg->wait_through(1, 5s);
    CHECK(done);
    CHECK(Clock::now() - again < 4s);
    CHECK_FALSE(h.leg->sent_unanswered(1));
    // Done already: true at once, even with no time to wait.
    const bool immediate = co_await h.leg->wait_through(1, 0ms);
    CHECK(immediate);
  });
}

TEST_CASE("secondary leg: wait_through a held entry times out, dropping it wakes the waiter") {
  Harness h;
  h.run([&]() -> asio::awaitable<void> {
    h.leg->enqueue(7, EntryPurpose::body, query("held"), false);
    const bool held = co_await h.leg->wait_through(7, 50ms);
    CHECK_FALSE(held);
    // Drop it from another coroutine while this one waits.
    asio::co_spawn(
        h.io,
        [&]() -> asio::awaitable<void> {
          co_await pause(30ms);
          h.leg->resolve(7, EntryPurpose::body, std::nullopt);
        },
        asio::detached);
    const auto started = Clock::now();
    const bool dropped = co_await h.leg->wait_through(7, 5s);
    CHECK(dropped);
    CHECK(Clock::now() - started < 4s);
    CHECK(h.fake->received().empty());
    CHECK(h.results.empty());
  });
}

TEST_CASE("secondary leg: an error is reported with its fields, a failed control entry too") {
  Harness h;
  h.run([&]() -> asio::awaitable<void> {
    h.leg->enqueue(1, EntryPurpose::body, query("FAIL body"), true);
    h.leg->enqueue(2, EntryPurpose::control, query("FAIL control"), true);
    h.leg->enqueue(3, EntryPurpose::body, query("after"), true);
    co_await h.leg->flush();
    const bool through = co_await h.leg->wait_through(3, 5s);
    CHECK(through);
    REQUIRE(h.results.size() == 3);
    CHECK(h.results[0].unit == 1);
    CHECK(h.results[0].error);
    REQUIRE(h.results[0].error_fields);
    CHECK(h.results[0].error_fields->sqlstate == "42P01");
    CHECK(h.results[0].error_fields->message == "FAIL body");
    CHECK(h.results[0].command_tags.empty());
    CHECK(h.results[1].unit == 2);
    CHECK(h.results[1].purpose == EntryPurpose::control);
    CHECK(h.results[1].error);
    // The state of one reply does not leak into the next.
    CHECK(h.results[2].unit == 3);
    CHECK_FALSE(h.results[2].error);
    CHECK_FALSE(h.results[2].error_fields);
    CHECK(h.results[2].command_tags == Strings{"after"});
    CHECK_FALSE(h.leg->broken());
  });
}

TEST_CASE("secondary leg: a shadow read runs alone") {
  Harness h;
  h.fake->set_auto_answer(false);
  h.run([&]() -> asio::awaitable<void> {
    h.leg->enqueue(1, EntryPurpose::body, query("write 1"), true);
    h.leg->enqueue_shadow(2, query("shadow read"), nullptr);
    h.leg->enqueue(3, EntryPurpose::body, query("write 3"), true);
    co_await h.leg->flush();
    // Not behind the write in flight.
    const bool first = co_await until([&] { return h.fake->received().size() == 1; });
    CHECK(first);
    co_await pause(20ms);
    CHECK(h.fake->received() == Strings{"write 1"});
    CHECK_FALSE(h.leg->shadow_in_flight());
    // The write is answered: the pump sends the shadow read, and nothing behind it.
    co_await h.fake->answer(1);
    const bool second = co_await until([&] { return h.fake->received().size() == 2; });
    CHECK(second);
    REQUIRE(h.leg->shadow_in_flight());
    CHECK(h.leg->shadow_in_flight()->first == 2);
    co_await h.leg->flush();
    co_await pause(20ms);
    CHECK(h.fake->received() == Strings{"write 1", "shadow read"});
    // The shadow read is answered: the write behind it goes.
    co_await h.fake->answer(1);
    const bool third = co_await until([&] { return h.fake->received().size() == 3; });
    CHECK(third);
    CHECK_FALSE(h.leg->shadow_in_flight());
    co_await h.fake->answer(1);
    const bool through = co_await h.leg->wait_through(3, 5s);
    CHECK(through);
    CHECK(h.fake->received() == Strings{"write 1", "shadow read", "write 3"});
    CHECK(h.result_units() == Units{1, 2, 3});
    REQUIRE(h.results.size() == 3);
    CHECK(h.results[1].purpose == EntryPurpose::shadow);
  });
}

TEST_CASE("secondary leg: hold_for_cancel stops sending until released") {
  Harness h;
  h.run([&]() -> asio::awaitable<void> {
    h.leg->hold_for_cancel(true);
    h.leg->enqueue(1, EntryPurpose::body, query("waits"), true);
    co_await h.leg->flush();
    co_await pause(20ms);
    CHECK(h.fake->received().empty());
    h.leg->hold_for_cancel(false);
    co_await h.leg->flush();
    const bool through = co_await h.leg->wait_through(1, 5s);
    CHECK(through);
    CHECK(h.fake->received() == Strings{"waits"});
  });
}

TEST_CASE("secondary leg: mark_broken stops the leg and wakes every waiter") {
  Harness h;
  h.fake->set_auto_answer(false);
  h.run([&]() -> asio::awaitable<void> {
    h.leg->enqueue(1, EntryPurpose::body, query("sent"), true);
    h.leg->enqueue(2, EntryPurpose::body, query("queued"), false);
    co_await h.leg->flush();
    const bool arrived = co_await until([&] { return h.fake->received().size() == 1; });
    CHECK(arrived);
    CHECK_FALSE(h.leg->take_failure_report());  // not broken: nothing to report
    asio::co_spawn(
        h.io,
        [&]() -> asio::awaitable<void> {
          co_await pause(30ms);
          h.leg->mark_broken("secondary timed out");
        },
        asio::detached);
    const auto started = Clock::now();
    const bool woke = co_await h.leg->wait_through(2, 5s);
    CHECK(woke);  // done: a broken leg owes nothing
    CHECK(Clock::now() - started < 4s);
    CHECK(h.leg->broken());
    CHECK(h.leg->broken_reason() == "secondary timed out");
    // Counted and recorded once.
    CHECK(h.leg->take_failure_report());
    CHECK_FALSE(h.leg->take_failure_report());
    // A second mark_broken keeps the first reason.
    h.leg->mark_broken("something else");
    CHECK(h.leg->broken_reason() == "secondary timed out");
    CHECK(h.leg->done_through(100));
    // The unit in flight may or may not have run there: that is known.
    CHECK(h.leg->sent_unanswered(1));
    // Nothing more is sent; the pump ends and the backend sees the connection close.
    h.leg->resolve_keep(2, EntryPurpose::body);
    co_await h.leg->flush();
    const bool closed = co_await until([&] { return h.fake->saw_eof(); });
    CHECK(closed);
    const bool pump_ended = co_await until([&] { return !h.pumping; });
    CHECK(pump_ended);
    CHECK(h.fake->received() == Strings{"sent"});
    CHECK(h.results.empty());
  });
}

TEST_CASE("secondary leg: the secondary closing the connection breaks the leg") {
  Harness h;
  h.fake->set_auto_answer(false);
  h.run([&]() -> asio::awaitable<void> {
    h.leg->enqueue(1, EntryPurpose::body, query("lost"), true);
    co_await h.leg->flush();
    const bool arrived = co_await until([&] { return h.fake->received().size() == 1; });
    CHECK(arrived);
    h.fake->close();
    const bool through = co_await h.leg->wait_through(1, 5s);
    CHECK(through);
    CHECK(h.leg->broken());
    CHECK(h.leg->broken_reason() == "connection lost");
    CHECK(h.results.empty());
  });
}

TEST_CASE("secondary leg: a ReadyForQuery nobody asked for breaks the leg") {
  Harness h;
  h.run([&]() -> asio::awaitable<void> {
    std::string stray;
    protocol::append_ready_for_query(stray, 'I');
    co_await h.fake->send_raw(stray);
    const bool broke = co_await until([&] { return h.leg->broken(); });
    CHECK(broke);
    CHECK(h.leg->broken_reason() == "unexpected ReadyForQuery from the secondary");
    CHECK(h.leg->take_failure_report());
  });
}

TEST_CASE("secondary leg: done_through and last_sendable_unit follow the queue") {
  Harness h;
  h.fake->set_auto_answer(false);
  h.run([&]() -> asio::awaitable<void> {
    CHECK(h.leg->done_through(1));
    CHECK_FALSE(h.leg->last_sendable_unit());
    h.leg->enqueue(4, EntryPurpose::body, query("four"), true);
    h.leg->enqueue(6, EntryPurpose::body, query("six"), false);
    // Nothing of unit 3 or before is queued.
    CHECK(h.leg->done_through(3));
    CHECK_FALSE(h.leg->done_through(4));
    CHECK_FALSE(h.leg->done_through(5));
    CHECK(h.leg->last_sendable_unit() == UnitId{4});
    co_await h.leg->flush();
    // Sent, not answered: still sendable-or-sent, still not done.
    CHECK(h.leg->last_sendable_unit() == UnitId{4});
    CHECK_FALSE(h.leg->done_through(4));
    const bool arrived = co_await until([&] { return h.fake->received().size() == 1; });
    CHECK(arrived);
    co_await h.fake->answer(1);
    const bool four = co_await h.leg->wait_through(4, 5s);
    CHECK(four);
    CHECK(h.leg->done_through(5));
    CHECK_FALSE(h.leg->done_through(6));
    CHECK_FALSE(h.leg->last_sendable_unit());
  });
}
