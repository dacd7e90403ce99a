#pragma once
/// Bad user input, reported with where it is: `file:line:col: error: message`. Every
/// problem found in one pass is carried at once; the program prints them all and exits 2.

#include <stdexcept>
#include <string>
#include <vector>

namespace memsim::scenarios {

/// A place in a user's input; line and column are 1-based, 0 when unknown.
struct Location {
  std::string file;
  int line = 0;
  int column = 0;
};

struct Diagnostic {
  Location where;
  std::string message;
};

/// "file:line:col", or "file" when the line is unknown.
std::string format_location(const Location& where);

/// "file:line:col: error: message".
std::string format_diagnostic(const Diagnostic& diagnostic);

class InputError : public std::runtime_error {
 public:
  explicit InputError(std::vector<Diagnostic> diagnostics);
  InputError(Location where, std::string message);
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

/// Collects problems while reading; throws them together.
class Diagnostics {
 public:
  void error(const Location& where, std::string message);
  bool empty() const { return list_.empty(); }
  size_t count() const { return list_.size(); }
  /// Throws InputError with everything collected, if anything was.
  void throw_if_any() const;
  /// Adds everything collected here to `other`.
  void forward_to(Diagnostics& other) const;

 private:
  std::vector<Diagnostic> list_;
};

/// The candidate closest to `word` by edit distance, or "" when none is close.
std::string nearest_spelling(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace memsim::scenarios
