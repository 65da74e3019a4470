// The configurations we ship must load: the embedded demo config and deploy/pgdual.example.yaml.

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include "config/default_config.hpp"
#include "config/loader.hpp"

namespace {

using namespace pgdual::config;
namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string all_errors(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += e + "\n";
  return out;
}

// Every ${NAME} referenced by the text, set to a dummy value for the test.
std::set<std::string> set_referenced_variables(const std::string& text) {
  std::set<std::string> names;
  const std::regex reference(R"(\$\{([A-Za-z_][A-Za-z0-9_]*)\})");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), reference);
       it != std::sregex_iterator(); ++it) {
    names.insert((*it)[1].str());
  }
  for (const auto& name : names) ::setenv(name.c_str(), ("test-value-of-" + name).c_str(), 1);
  return names;
}

}  // namespace

TEST_CASE("the embedded demo config loads", "[examples]") {
  ::setenv("PGDUAL_DEMO_PASSWORD", "demo-pw", 1);
  const LoadResult r = load_config_string(embedded_demo_config(), "");
  ::unsetenv("PGDUAL_DEMO_PASSWORD");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  const Config& c = *r.config;
  CHECK(c.auth.method == AuthMethod::trust);
  CHECK(c.old_backend.host == "127.0.0.1");
  CHECK(c.old_backend.port == 55432);
  CHECK(c.new_backend.host == "127.0.0.1");
  CHECK(c.new_backend.port == 55433);
  CHECK(c.old_backend.user == "pgdual_demo");
  CHECK(c.new_backend.user == "pgdual_demo");
  CHECK(c.old_backend.password == "demo-pw");
  CHECK(c.new_backend.password == "demo-pw");
  CHECK(c.migration.phase == Phase::dual_write);
  CHECK(r.warnings.empty());
}

TEST_CASE("the demo config says which variable is missing", "[examples]") {
  ::unsetenv("PGDUAL_DEMO_PASSWORD");
  const LoadResult r = load_config_string(embedded_demo_config(), "");
  CHECK_FALSE(r.ok());
  CHECK(r.errors.size() == 2);
  CHECK(r.errors[0] ==
        "backends.old.password: environment variable PGDUAL_DEMO_PASSWORD is not set");
}

TEST_CASE("deploy/pgdual.example.yaml loads and holds no literal secret", "[examples]") {
  // The build passes the repository's root (not __FILE__, which a compiler cache may make
  // relative to the build directory).
  const fs::path root = PGDUAL_SOURCE_DIR;
  const std::string original = read_text(root / "deploy" / "pgdual.example.yaml");
  REQUIRE_FALSE(original.empty());

  // The example names files under /etc/pgdual/; recreate them in a temporary directory.
  std::string pattern = (fs::temp_directory_path() / "pgdual-example-XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  const fs::path dir = pattern;
  std::string text = original;
  const std::regex file_reference(R"(/etc/pgdual/([A-Za-z0-9_./-]+))");
  for (auto it = std::sregex_iterator(original.begin(), original.end(), file_reference);
       it != std::sregex_iterator(); ++it) {
    const fs::path file = dir / (*it)[1].str();
    if (file.extension() == ".yaml") continue;
    fs::create_directories(file.parent_path());
    std::ofstream(file) << "placeholder\n";
    ::chmod(file.c_str(), 0600);
  }
  for (std::size_t at; (at = text.find("/etc/pgdual/")) != std::string::npos;) {
    text.replace(at, 12, dir.string() + "/");
  }
  const fs::path copy = dir / "pgdual.yaml";
  std::ofstream(copy) << text;

  const std::set<std::string> variables = set_referenced_variables(text);
  CHECK_FALSE(variables.empty());
  const LoadResult r = load_config_file(copy.string());
  for (const auto& name : variables) ::unsetenv(name.c_str());
  std::error_code ec;
  fs::remove_all(dir, ec);

  INFO(all_errors(r));
  REQUIRE(r.ok());
  // A literal secret or a loosely protected secret file would show up as a warning.
  CHECK(r.warnings.empty());
  const Config& c = *r.config;
  CHECK(c.auth.method == AuthMethod::scram_sha_256);
  CHECK(c.auth.users.size() == 3);
  CHECK(c.admin.console_enabled());
  CHECK(c.admin.users == std::vector<std::string>{"ops"});
  REQUIRE(c.tls.has_value());
  CHECK(c.tls->require);
  CHECK(c.old_backend.sslmode == SslMode::verify_full);
  CHECK(c.old_backend.password == "test-value-of-OLD_DB_PASSWORD");
  CHECK(c.new_backend.password == "placeholder");
  CHECK_FALSE(c.migration.tables.empty());
  CHECK_FALSE(c.migration.tenants.empty());
}
