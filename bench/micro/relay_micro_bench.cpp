// The relay's per-message work without sockets: frames in, frames out.
//
//   pgdual_relay_micro_bench [seconds per mode, default 0.5]
//
// For pgbench -S's transaction in each protocol mode (simple, extended, prepared) it runs what
// a session does per message between its two reads: the client's frames are decoded
// (protocol::decode_frame, as FrameReader::next), grouped into a unit and classified
// (routing::UnitBuilder with the worker's classification cache, with literal values that vary
// as pgbench's do; the unit is reset at its end, as the session's dispatch does) and appended to
// the primary's output; the server's reply frames are decoded and the unit ends at ReadyForQuery.
// It prints nanoseconds per message and per transaction. scripts/test runs it before the suite so
// that CI's log shows the cost; nothing asserts a time (machines differ, and a shared CI machine
// more so).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "protocol/backend_messages.hpp"
#include "protocol/constants.hpp"
#include "protocol/frame_decoder.hpp"
#include "protocol/frontend_messages.hpp"
#include "routing/classify/classification_cache.hpp"
#include "routing/unit_builder.hpp"

using namespace pgdual;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kMaxMessage = 1 << 30;
constexpr int kAccounts = 1000000;

std::string select_sql(int aid) {
  return "SELECT abalance FROM pgbench_accounts WHERE aid = " + std::to_string(aid) + ";";
}

// The client's bytes of one transaction in `mode`.
std::string client_transaction(const std::string& mode, int aid) {
  std::string out;
  if (mode == "simple") {
    protocol::append_query(out, select_sql(aid));
  } else if (mode == "extended") {
    protocol::append_parse(out, "", "SELECT abalance FROM pgbench_accounts WHERE aid = $1", {});
    protocol::append_bind(out, "", "", {}, {std::to_string(aid)}, {});
    protocol::append_describe(out, 'P', "");
    protocol::append_execute(out, "", 0);
    protocol::append_sync(out);
  } else {
    protocol::append_bind(out, "", "P_0", {}, {std::to_string(aid)}, {});
    protocol::append_describe(out, 'P', "");
    protocol::append_execute(out, "", 0);
    protocol::append_sync(out);
  }
  return out;
}

std::string server_reply(const std::string& mode) {
  std::string out;
  if (mode == "extended") protocol::append_parse_complete(out);
  if (mode != "simple") protocol::append_bind_complete(out);
  protocol::append_row_description(out, {{"abalance", 16396, 3, 23, 4, -1, 0}});
  protocol::append_data_row(out, {std::string("-4321")});
  protocol::append_command_complete(out, "SELECT 1");
  protocol::append_ready_for_query(out, protocol::txn_status::kIdle);
  return out;
}

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

struct Result {
  std::uint64_t transactions = 0;
  std::uint64_t messages = 0;
  double seconds = 0;
};

Result run_mode(const std::string& mode, double seconds) {
  routing::ClassificationCache cache;
  routing::ClassifierOptions options;
  routing::UnitBuilder units(cache, options);
  if (mode == "prepared") {
    // The named statement the Binds refer to, prepared once as pgbench -M prepared does.
    std::string prepare;
    protocol::append_parse(prepare, "P_0", "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
                           {});
    protocol::append_sync(prepare);
    for (std::size_t at = 0; at < prepare.size();) {
      auto decoded =
          protocol::decode_frame(bytes_of(prepare).subspan(at), false, kMaxMessage, true);
      if (units.add(decoded.frame) == routing::FrameRole::terminator) units.reset();
      at += decoded.frame.size;
    }
  }
  // A few hundred distinct transactions, as pgbench's random aids make them.
  std::vector<std::string> inputs;
  for (int i = 0; i < 512; ++i) inputs.push_back(client_transaction(mode, (i * 7919) % kAccounts));
  const std::string reply = server_reply(mode);
  std::string to_primary;
  std::string to_client;
  Result result;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    for (int batch = 0; batch < 256; ++batch) {
      const std::string& input = inputs[result.transactions % inputs.size()];
      to_primary.clear();
      for (std::size_t at = 0; at < input.size();) {
        auto decoded =
            protocol::decode_frame(bytes_of(input).subspan(at), false, kMaxMessage, true);
        if (decoded.status != protocol::DecodeStatus::ready) std::abort();
        if (units.add(decoded.frame) == routing::FrameRole::terminator) units.reset();
        to_primary.append(input, at, decoded.frame.size);
        at += decoded.frame.size;
        ++result.messages;
      }
      to_client.clear();
      bool ready = false;
      for (std::size_t at = 0; at < reply.size();) {
        auto decoded = protocol::decode_frame(bytes_of(reply).subspan(at), false, kMaxMessage);
        if (decoded.status != protocol::DecodeStatus::ready) std::abort();
        ready = decoded.frame.type == protocol::backend::kReadyForQuery;
        at += decoded.frame.size;
        ++result.messages;
      }
      to_client.append(reply);
      if (!ready || to_primary.size() != input.size()) std::abort();
      ++result.transactions;
    }
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 0.5;
  if (!(seconds > 0 && seconds <= 60)) {
    std::fprintf(stderr, "usage: %s [seconds per mode, 0 < s <= 60]\n", argv[0]);
    return 2;
  }
  std::printf("relay micro-benchmark (no sockets; pgbench -S's transaction; %.1f s per mode)\n",
              seconds);
  std::printf("%-9s %12s %12s %14s %14s\n", "mode", "txns", "messages", "ns/message", "ns/txn");
  for (const std::string mode : {"simple", "extended", "prepared"}) {
    const Result r = run_mode(mode, seconds);
    std::printf("%-9s %12llu %12llu %14.0f %14.0f\n", mode.c_str(),
                static_cast<unsigned long long>(r.transactions),
                static_cast<unsigned long long>(r.messages), r.seconds * 1e9 / r.messages,
                r.seconds * 1e9 / r.transactions);
  }
  return 0;
}
