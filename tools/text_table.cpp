#include "tools/text_table.h"

#include <algorithm>

#include <fmt/format.h>

namespace memsim::tools {

namespace {

// Display width of UTF-8 text: count code points, not bytes (for "×", "−").
size_t display_width(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string pad(const std::string& text, size_t width, bool left) {
  const size_t w = display_width(text);
  const std::string fill(width > w ? width - w : 0, ' ');
  return left ? text + fill : fill + text;
}

}  // namespace

std::vector<size_t> TextTable::widths() const {
  std::vector<size_t> widths(header_.size(), 0);
  for (size_t i = 0; i < header_.size(); ++i)
    widths[i] = display_width(header_[i]);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(row[i]));
    }
  }
  return widths;
}

void TextTable::render_text(std::ostream& out) const {
  const auto w = widths();
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (size_t i = 0; i < w.size(); ++i) {
      if (i > 0) text += "  ";
      text += pad(i < cells.size() ? cells[i] : "", w[i], i == 0);
    }
    text.erase(text.find_last_not_of(' ') + 1);
    out << text << '\n';
  };
  line(header_);
  for (const auto& row : rows_)
    line(row);
}

void TextTable::render_markdown(std::ostream& out) const {
  auto line = [&](const std::vector<std::string>& cells) {
    out << '|';
    for (size_t i = 0; i < header_.size(); ++i)
      out << ' ' << (i < cells.size() ? cells[i] : "") << " |";
    out << '\n';
  };
  line(header_);
  out << '|';
  for (size_t i = 0; i < header_.size(); ++i)
    out << (i == 0 ? " --- |" : " ---: |");
  out << '\n';
  for (const auto& row : rows_)
    line(row);
}

}  // namespace memsim::tools
