#pragma once
// Errors a user can act on, each with a kind, and an assert for internal bugs.
//
// Every error astrofm throws for bad input is an astrofm::Error whose message
// names the file, field and value. Its kind lets each front end map it:
//
//   kind          CLI exit  HTTP  Python        example
//   InvalidInput  1         400   ValueError    a NaN feature, a bad shape, a wrong dtype
//   NotFound      1         404   KeyError      an unknown object id, model name, column
//   Corrupt       1         422   ValueError    a truncated file, a checksum mismatch
//   IO            1         500   OSError       a file that cannot be opened or written
//   Usage         2         400   ValueError    contradictory options, an unknown task
//
// Internal bugs (a broken invariant, not the user's input) go through
// ASTROFM_ASSERT and surface as InternalError: exit code 3, HTTP 500.
// Thread-safety: plain value types; safe everywhere.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace astrofm {

enum class ErrorKind { InvalidInput, NotFound, Corrupt, IO, Usage };
const char* error_kind_name(ErrorKind k);  // "invalid_input", "not_found", "corrupt", "io", "usage"

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// Bad input of any kind but usage: a file, column, row or value that cannot be used.
class InputError : public Error {
 public:
  explicit InputError(const std::string& what, ErrorKind kind = ErrorKind::InvalidInput) : Error(kind, what) {}
};

// Bad command-line or API use: unknown options, contradictory flags.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(ErrorKind::Usage, what) {}
};

// A broken internal invariant: a bug in astrofm, never the user's input.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

template <class... Args>
[[noreturn]] void fail_input(fmt::format_string<Args...> f, Args&&... args) {
  throw InputError(fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
[[noreturn]] void fail_not_found(fmt::format_string<Args...> f, Args&&... args) {
  throw InputError(fmt::format(f, std::forward<Args>(args)...), ErrorKind::NotFound);
}
template <class... Args>
[[noreturn]] void fail_corrupt(fmt::format_string<Args...> f, Args&&... args) {
  throw InputError(fmt::format(f, std::forward<Args>(args)...), ErrorKind::Corrupt);
}
template <class... Args>
[[noreturn]] void fail_io(fmt::format_string<Args...> f, Args&&... args) {
  throw InputError(fmt::format(f, std::forward<Args>(args)...), ErrorKind::IO);
}
template <class... Args>
[[noreturn]] void fail_usage(fmt::format_string<Args...> f, Args&&... args) {
  throw UsageError(fmt::format(f, std::forward<Args>(args)...));
}

[[noreturn]] void assert_failed(const char* cond, const char* file, int line, const std::string& msg);

}  // namespace astrofm

// For internal invariants only; user input is checked with fail_*().
#define ASTROFM_ASSERT(cond, ...)                                                                   \
  do {                                                                                              \
    if (!(cond)) ::astrofm::assert_failed(#cond, __FILE__, __LINE__, ::fmt::format("" __VA_ARGS__)); \
  } while (0)
