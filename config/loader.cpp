#include "config/loader.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "config/env_expand.hpp"
#include "config/files.hpp"
#include "config/section_parsers.hpp"
#include "config/validate.hpp"
#include "config/yaml_section.hpp"

namespace pgdual::config {
namespace {

// A config file is small; anything bigger is a mistake (wrong file), not a config.
constexpr std::size_t kMaxConfigFileSize = 4 * 1024 * 1024;

Config parse_document(const YAML::Node& root, LoadContext& ctx) {
  Config c;
  Section top(root, "", ctx,
              {"listen", "admin_listen", "workers", "auth", "admin", "tls", "backends", "limits",
               "log", "migration"});
  parse_listen_address(top, "listen", c.listen_host, c.listen_port);
  parse_listen_address(top, "admin_listen", c.admin_host, c.admin_port);
  top.read_integer("workers", c.workers, 0, 256);
  c.auth = parse_auth(top.get("auth"), ctx);
  c.admin = parse_admin(top.get("admin"), c.auth, ctx);
  c.tls = parse_tls(top.get("tls"), ctx);

  const YAML::Node backends_node = top.get("backends");
  Section backends(backends_node, "backends", ctx, {"old", "new"});
  if (backends.require("old", "the database being migrated from")) {
    c.old_backend = parse_backend(backends.get("old"), "backends.old", ctx);
  }
  if (backends.require("new", "the database being migrated to")) {
    c.new_backend = parse_backend(backends.get("new"), "backends.new", ctx);
  }

  c.limits = parse_limits(top.get("limits"), ctx);
  c.log = parse_log(top.get("log"), ctx);
  c.migration = parse_migration(top.get("migration"), ctx);
  validate_across_sections(c, ctx.diag);
  return c;
}

LoadResult load(std::string_view yaml, const std::string& base_dir, const std::string& source) {
  LoadResult result;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    // yaml-cpp's messages describe the syntax, not the content, so they cannot leak a secret.
    const std::string where = source.empty() ? std::string("config") : source;
    result.errors.push_back(where + ":" + std::to_string(e.mark.line + 1) + ":" +
                            std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
    return result;
  }
  if (!root.IsDefined() || root.IsNull()) {
    result.errors.push_back(
        "(top level): the configuration is empty; backends.old and "
        "backends.new are required");
    return result;
  }

  Diagnostics diag;
  const EnvLookup env = process_environment();
  LoadContext ctx{diag, env, base_dir};
  Config config = parse_document(root, ctx);
  config.source_path = source;
  result.errors = std::move(diag.errors);
  result.warnings = std::move(diag.warnings);
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

}  // namespace

LoadResult load_config_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path absolute = fs::absolute(fs::path(path), ec);
  const std::string source = ec ? path : absolute.lexically_normal().string();
  const std::string base_dir = ec ? std::string() : absolute.parent_path().string();

  LoadResult result;
  if (auto reason = unreadable_reason(source)) {
    result.errors.push_back(source + ": cannot read the configuration file: " + *reason);
    return result;
  }
  std::ifstream in(source, std::ios::binary);
  if (!in) {
    result.errors.push_back(source +
                            ": cannot read the configuration file: " + std::strerror(errno));
    return result;
  }
  std::string text;
  char buffer[8192];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxConfigFileSize) {
      result.errors.push_back(source + ": the configuration file is larger than 4 MiB");
      return result;
    }
  }
  if (in.bad()) {
    result.errors.push_back(source + ": error while reading the configuration file");
    return result;
  }
  return load(text, base_dir, source);
}

LoadResult load_config_string(std::string_view yaml, const std::string& base_dir) {
  std::string dir = base_dir;
  if (dir.empty()) {
    std::error_code ec;
    dir = std::filesystem::current_path(ec).string();
  }
  return load(yaml, dir, std::string());
}

}  // namespace pgdual::config
