#include "scenarios/diagnostics.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

namespace memsim::scenarios {

namespace {

std::string join(const std::vector<Diagnostic>& diagnostics) {
  std::string text;
  for (const Diagnostic& d : diagnostics) {
    if (!text.empty()) text += '\n';
    text += format_diagnostic(d);
  }
  return text;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string format_location(const Location& where) {
  if (where.line == 0) return where.file;
  return fmt::format("{}:{}:{}", where.file, where.line, where.column);
}

std::string format_diagnostic(const Diagnostic& d) {
  return fmt::format("{}: error: {}", format_location(d.where), d.message);
}

InputError::InputError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(join(diagnostics)), diagnostics_(std::move(diagnostics)) {}

InputError::InputError(Location where, std::string message)
    : InputError(std::vector<Diagnostic>{{std::move(where), std::move(message)}}) {}

void Diagnostics::error(const Location& where, std::string message) {
  Diagnostic diagnostic{where, std::move(message)};
  if (list_.size() >= kMostKept) {
    ++uncounted_;
    return;
  }
  if (!seen_.insert(format_diagnostic(diagnostic)).second) return;
  list_.push_back(std::move(diagnostic));
}

void Diagnostics::throw_if_any() const {
  if (list_.empty()) return;
  std::vector<Diagnostic> all = list_;
  if (uncounted_ > 0) {
    Diagnostic more;
    more.where.file = list_.back().where.file;
    more.message = fmt::format("and {} more problems, not shown", uncounted_);
    all.push_back(std::move(more));
  }
  throw InputError(std::move(all));
}

void Diagnostics::forward_to(Diagnostics& other) const {
  for (const Diagnostic& d : list_)
    other.error(d.where, d.message);
  other.uncounted_ += uncounted_;
}

std::string nearest_spelling(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  size_t best_prefix = 0;
  for (const std::string& candidate : candidates) {
    const size_t distance = edit_distance(word, candidate);
    // Among equally near ones, the one that shares the longest start: slips come late.
    const size_t prefix = static_cast<size_t>(
        std::mismatch(word.begin(), word.end(), candidate.begin(), candidate.end()).first -
        word.begin());
    if (distance < best_distance ||
        (distance == best_distance && !best.empty() && prefix > best_prefix)) {
      best_distance = distance;
      best_prefix = prefix;
      best = candidate;
    }
  }
  return best;
}

}  // namespace memsim::scenarios
