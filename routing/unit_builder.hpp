#pragma once
// Follows a client's message stream and groups it into units: one simple
// Query, one FunctionCall, or an extended-protocol batch up to Sync. Each
// unit gets the classified statements it executes, so the session can decide
// how the unit reaches the secondary. It remembers which statement every
// prepared-statement name and portal refers to (Parse, Bind, Close).
// No I/O.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/frame_decoder.hpp"
#include "protocol/message_reader.hpp"
#include "routing/classify/classification_cache.hpp"
#include "routing/phase_rules.hpp"

namespace pgdual::routing {

enum class FrameRole {
  part,        // belongs to the unit being built
  terminator,  // ends the unit (Query, Sync, FunctionCall): dispatch it now
  // CopyData/CopyDone/CopyFail: belongs to the last dispatched unit. So do the Sync and Flush
  // messages of an extended-protocol COPY (see UnitBuilder::ExtendedCopy).
  copy_data,
  terminate,  // the client is leaving
};

class UnitBuilder {
 public:
  UnitBuilder(ClassificationCache& cache, const ClassifierOptions& options);

  // When set, a Query or Parse holding DDL is replaced (see replacement()).
  // The classifier options in force (they change on reload; the statement
  // and portal maps survive it).
  void set_options(const ClassifierOptions& options) { options_ = &options; }

  // (Called for every batch a client sends: the texts are copied only when they change.)
  void set_reject_ddl(bool reject, std::string_view reason) {
    reject_ddl_ = reject;
    if (reason != reject_reason_) reject_reason_ = reason;
  }
  // Strategy cdc with migration.ddl mirror: a Query or Parse that cdc cannot split exactly
  // (routing/cdc_rules.hpp, cdc_refusal) is replaced the same way; with `writes_refused` set,
  // so is every one that writes (its text is the error's message).
  void set_cdc_refusals(bool refuse, std::string_view writes_refused = {}) {
    cdc_refusals_ = refuse;
    if (writes_refused != cdc_writes_refused_) cdc_writes_refused_ = writes_refused;
  }

  FrameRole add(const protocol::Frame& frame);

  // Set by add() when the frame must not reach the primary as sent: the
  // bytes to send instead (a statement that makes the server raise the
  // policy's error, so the error arrives in protocol order).
  const std::optional<std::string>& replacement() const { return replacement_; }

  const UnitFacts& facts() const { return facts_; }
  // The Query or Parse text add() just classified (null for other frames), and its literal key
  // (routing/classify/literal_key.hpp): later steps on the same frame reuse them.
  const std::shared_ptr<const Classification>& last_classification() const {
    return last_classification_;
  }
  const std::string& last_key() const { return last_key_; }
  // The first statement text of the unit, for logs and retry context.
  const std::string& first_text() const { return first_text_; }
  // Starts a new unit. The facts of the old one stay valid until then.
  void reset();

  // What a secondary connection opened in the middle of the session needs
  // to mean the same thing as the primary: the named prepared statements
  // (Parse messages, then Sync) and the session's SET statements (Queries).
  std::string session_state_replay() const;
  // The Parse message actually sent for a named statement, when pgdual rewrote it: a
  // reconnected secondary must get that one.
  void remember_named_parse(const std::string& name, std::string parse_bytes) {
    named_parses_[name] = std::move(parse_bytes);
  }

 private:
  using ClassificationPtr = std::shared_ptr<const Classification>;

  // One handler per message type that carries statement facts (FrameRole as add()).
  FrameRole add_query(protocol::MessageReader& reader);
  FrameRole add_parse(protocol::MessageReader& reader, const protocol::Frame& frame);
  FrameRole add_bind(protocol::MessageReader& reader);
  FrameRole add_execute(protocol::MessageReader& reader);
  FrameRole add_close(protocol::MessageReader& reader);
  // Classifies a Query or Parse text through the cache; the unit's first text is kept for logs.
  ClassificationPtr classify_text(std::string_view sql);
  void add_statements(const ClassificationPtr& classification);
  void remember_settings(const Classification& classification, std::string_view sql);
  std::optional<std::string> rejection_if_ddl(const Classification& classification, bool as_parse,
                                              std::string_view name) const;

  ClassificationCache& cache_;
  const ClassifierOptions* options_;
  std::unordered_map<std::string, ClassificationPtr> statements_;  // by prepared-statement name
  std::unordered_map<std::string, ClassificationPtr> portals_;     // by portal name
  std::vector<ClassificationPtr> keep_alive_;
  std::unordered_map<std::string, std::string> named_parses_;  // Parse message bytes by name
  std::map<std::string, std::string>
      settings_;  // SET text by parameter  // what facts_.statements points into
  UnitFacts facts_;
  std::string first_text_;
  std::optional<std::string> replacement_;
  std::shared_ptr<const Classification> last_classification_;
  std::string last_key_;
  // A COPY ... FROM STDIN sent with the extended protocol: libpq sends Parse, Bind, Describe,
  // Execute, Sync, then the data, CopyDone and a second Sync. The server ignores Sync and Flush
  // while it copies in, and answers one ReadyForQuery after the Sync that follows CopyDone (or
  // CopyFail): all of it is one unit, the one the first Sync dispatched. Whether copy-in
  // started at all shows in the client's next message: it sends copy data only once the
  // server's CopyInResponse came.
  enum class ExtendedCopy { none, may_start, copying, ending };
  ExtendedCopy extended_copy_ = ExtendedCopy::none;
  std::optional<FrameRole> extended_copy_role(char type);
  bool reject_ddl_ = false;
  bool cdc_refusals_ = false;
  std::string cdc_writes_refused_;
  std::string reject_reason_;
};

}  // namespace pgdual::routing
