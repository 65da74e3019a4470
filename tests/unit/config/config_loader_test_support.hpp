#pragma once
// Helpers shared by the config loader tests (config_loader*_test.cpp): a temporary directory,
// a scoped environment variable, a base YAML with both backends, and error matchers.

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/loader.hpp"

namespace config_loader_test {

using namespace pgdual::config;
namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "pgdual-config-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string write(const std::string& name, const std::string& content, mode_t mode = 0600) const {
    const fs::path file = path_ / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    ::chmod(file.c_str(), mode);
    return file.string();
  }

 private:
  fs::path path_;
};

// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

inline const std::string kBackends = R"(
backends:
  old:
    host: 10.0.0.5
    user: app
  new:
    host: 10.0.0.6
    user: app
)";

inline const std::string kTrust = "auth:\n  method: trust\n";

inline LoadResult load(const std::string& yaml, const std::string& base_dir = "/nonexistent-base") {
  return load_config_string(yaml, base_dir);
}

inline bool has_error(const LoadResult& r, const std::string& exact) {
  for (const auto& e : r.errors) {
    if (e == exact) return true;
  }
  return false;
}

// An error for this key path (the text before ": ") whose message contains `fragment`.
inline bool has_error_at(const LoadResult& r, const std::string& path,
                         const std::string& fragment = "") {
  for (const auto& e : r.errors) {
    if (e.rfind(path + ": ", 0) == 0 && e.find(fragment, path.size()) != std::string::npos) {
      return true;
    }
  }
  return false;
}

inline std::string all_errors(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += e + "\n";
  return out;
}

inline const char* kVerifier =
    "SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$nQpbZ77WudtqufPwikHXGRt6g2QJ4zns8bZLw273DRM=:"
    "jn2amWP1q1h+jgjy0YTO14S6/F02SV7taipOeB7ef20=";

}  // namespace config_loader_test
