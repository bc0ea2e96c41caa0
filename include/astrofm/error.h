#pragma once
// Errors a user can act on. The CLI maps InputError to exit code 1 and
// UsageError to exit code 2; anything else is an internal bug.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace astrofm {

// Bad input: a file, column, row or value that cannot be used. The message
// names the file and the field and says why.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad command-line use: unknown options, contradictory flags.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class... Args>
[[noreturn]] void fail_input(fmt::format_string<Args...> f, Args&&... args) {
  throw InputError(fmt::format(f, std::forward<Args>(args)...));
}

template <class... Args>
[[noreturn]] void fail_usage(fmt::format_string<Args...> f, Args&&... args) {
  throw UsageError(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace astrofm
