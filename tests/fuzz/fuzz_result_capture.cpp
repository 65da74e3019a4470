// libFuzzer target for the shadow-read comparator: backend messages from the secondary are
// untrusted bytes. The input is split into messages (type byte, 16-bit length, payload), fed to
// two captures with different budgets, and the captures are compared with each other and with
// themselves. Nothing may crash, a capture must stay within its byte budget, and a capture
// compared with itself must match unless it is malformed.
//
// The protocol layer comes from pgdual_protocol, which the fuzz build instruments
// (tests/CMakeLists.txt). The comparator's two sources are compiled into this file instead: the
// library that holds them, pgdual_proxy, is the Asio data path, too much to build for one target.
#include <cstddef>
#include <cstdint>
#include <span>

#include "proxy/shadow/result_capture.cpp"
#include "proxy/shadow/result_compare.cpp"

namespace {

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (false)

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pgdual::proxy::shadow;
  CompareRules small;
  small.max_buffered_bytes = 256;
  small.float_tolerance = 1e-6;
  small.timestamp_precision = 3;
  CompareRules large;
  ResultCapture tight(small), roomy(large), tight_again(small);
  std::size_t at = 0;
  while (at + 3 <= size) {
    const char type = static_cast<char>(data[at]);
    const std::size_t length = (std::size_t(data[at + 1]) << 8) | data[at + 2];
    at += 3;
    const std::size_t take = std::min(length, size - at);
    const std::span<const std::uint8_t> payload(data + at, take);
    tight.on_message(type, payload);
    tight_again.on_message(type, payload);
    roomy.on_message(type, payload);
    at += take;
  }
  const bool ordered = size % 2 == 0;
  const std::vector<std::size_t> keys =
      size % 3 == 0 ? std::vector<std::size_t>{0} : std::vector<std::size_t>{};
  const auto self = compare_results(tight, tight_again, small, ordered, keys);
  if (!tight.malformed()) FUZZ_CHECK(self.outcome == Outcome::match);
  (void)compare_results(roomy, roomy, large, !ordered, keys);
  return 0;
}
