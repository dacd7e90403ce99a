#pragma once
/// Rows of cells rendered as an aligned plain-text table or a Markdown table. A plain-text
/// table can be fitted to a width: cells wrap onto more lines at spaces and between the
/// parts of a dotted name, widest column first, until the table fits or no cell can wrap.

#include <cstddef>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

namespace memsim::tools {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void add_row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  /// The first column and these are left-aligned; the rest right-aligned (numbers).
  void align_left(size_t column) { left_.push_back(column); }

  /// The width the table takes on one line a row.
  size_t natural_width() const;
  /// The width it takes rendered within `max_width` (more when cells cannot wrap enough).
  size_t fitted_width(size_t max_width) const;
  /// Removes the columns (but the first) that hold one value in every row, and returns
  /// them as "header value" texts: what a narrow table says once above itself.
  std::vector<std::string> take_constant_columns();
  /// Headers that are dotted keys ("parallel.tp") become their last part ("tp") where no
  /// two would then read alike.
  void shorten_dotted_headers();

  /// Fits a table for people into `width`: when it is wider, what every row shares is said
  /// once above it ("every row: fits yes, ..."), then dotted headers shorten; then it
  /// renders, wrapping cells where that helps.
  void render_fitted(std::ostream& out, size_t width);
  /// Renders within `max_width` characters where wrapping can make it fit.
  void render_text(std::ostream& out, size_t max_width = std::numeric_limits<size_t>::max()) const;
  void render_markdown(std::ostream& out) const;
  /// An HTML <table>: text escaped, a cell's lines broken with <br>.
  void render_html(std::ostream& out) const;

 private:
  bool left_aligned(size_t column) const;
  /// Row 0 is the header.
  const std::string& cell(size_t row, size_t column) const;
  /// Each column's width within `max_width`, where wrapping its cells can make it fit.
  std::vector<size_t> fit_widths(size_t max_width) const;
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<size_t> left_;
};

/// `text` with HTML's special characters escaped.
std::string html_escape(const std::string& text);

/// Display width of UTF-8 text: code points, not bytes (for "×", "–").
size_t display_width(const std::string& text);

/// `text` broken into lines of at most `width` characters at spaces (a longer word stays whole).
std::vector<std::string> wrap_words(const std::string& text, size_t width);

}  // namespace memsim::tools
