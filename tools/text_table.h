#pragma once
/// Rows of cells rendered as an aligned plain-text table or a Markdown table.

#include <ostream>
#include <string>
#include <vector>

namespace memsim::tools {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void add_row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  /// Columns after the first are right-aligned (numbers); the first is left-aligned.
  void render_text(std::ostream& out) const;
  void render_markdown(std::ostream& out) const;

 private:
  std::vector<size_t> widths() const;
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace memsim::tools
