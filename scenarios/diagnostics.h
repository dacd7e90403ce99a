#pragma once
/// Bad user input, reported with where it is: `file:line:col: error: message`. Every
/// problem found in one pass is carried at once; the program prints them all and exits 2.

#include <stdexcept>
#include <string>
#include <unordered_set>
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

/// Collects problems while reading; throws them together. The same problem twice (variants
/// share the base) is kept once; past the first 100, problems are only counted.
class Diagnostics {
 public:
  static constexpr size_t kMostKept = 100;

  void error(const Location& where, std::string message);
  bool empty() const { return list_.empty(); }
  /// Whether further problems are only counted (so need no message worked out).
  bool full() const { return list_.size() >= kMostKept; }
  size_t count() const { return list_.size() + uncounted_; }
  /// Throws InputError with everything collected, if anything was.
  void throw_if_any() const;
  /// Adds everything collected here to `other`.
  void forward_to(Diagnostics& other) const;

 private:
  std::vector<Diagnostic> list_;
  std::unordered_set<std::string> seen_;  ///< every kept problem, formatted
  size_t uncounted_ = 0;                  ///< problems past kMostKept
};

/// The candidate closest to `word` by edit distance (of equally close ones, the one that
/// starts with more of `word`), or "" when none is close.
std::string nearest_spelling(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace memsim::scenarios
