#include "tools/text_table.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace memsim::tools {

namespace {

/// A part of a cell that a line may end after: a word (at a space), or a part of a dotted
/// name ("training." then "micro_batch"; never inside a number such as 72.44).
struct Piece {
  std::string text;
  bool space_after = false;
};

bool letter(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_';
}

/// A unit stays on its number's line ("72.44 GiB,", "87.5 s").
bool unit(std::string word) {
  while (!word.empty() && (word.back() == ',' || word.back() == ')' || word.back() == ';'))
    word.pop_back();
  static const char* const kUnits[] = {"B",   "KB",  "MB", "GB", "TB",  "KiB", "MiB",
                                       "GiB", "TiB", "s",  "ms", "min", "h",   "%"};
  return std::any_of(std::begin(kUnits), std::end(kUnits),
                     [&](const char* u) { return word == u; });
}

/// The words of `line` (at spaces), a unit kept with the word before it.
std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    const size_t end = std::min(line.find(' ', i), line.size());
    std::string word = line.substr(i, end - i);
    if (!word.empty()) {
      if (!words.empty() && unit(word)) {
        words.back() += " " + word;
      } else {
        words.push_back(std::move(word));
      }
    }
    i = end + 1;
  }
  return words;
}

std::vector<Piece> pieces_of(const std::string& line) {
  std::vector<Piece> pieces;
  for (const std::string& word : words_of(line)) {
    size_t start = 0;
    for (size_t k = 1; k + 1 < word.size(); ++k) {
      if (word[k] == '.' && letter(word[k - 1]) && letter(word[k + 1])) {
        pieces.push_back({word.substr(start, k + 1 - start), false});
        start = k + 1;
      }
    }
    if (start < word.size()) pieces.push_back({word.substr(start), true});
  }
  if (!pieces.empty()) pieces.back().space_after = false;
  return pieces;
}

/// The lines of `cell` (its own lines, each filled greedily) within `width` where it can.
std::vector<std::string> flow(const std::string& cell, size_t width) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= cell.size()) {
    const size_t end = std::min(cell.find('\n', start), cell.size());
    const std::string text = cell.substr(start, end - start);
    // Leading spaces indent every line the text wraps onto ("  weights").
    const std::string indent(std::min(text.find_first_not_of(' '), text.size()), ' ');
    std::string line = indent;
    bool space = false;  // whether the last piece on `line` wants a space after it
    for (const Piece& piece : pieces_of(text)) {
      const std::string joined = line + (space ? " " : "") + piece.text;
      if (line.size() > indent.size() && display_width(joined) > width) {
        lines.push_back(line);
        line = indent + piece.text;
      } else {
        line = joined;
      }
      space = piece.space_after;
    }
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

size_t widest(const std::vector<std::string>& lines) {
  size_t width = 0;
  for (const std::string& line : lines)
    width = std::max(width, display_width(line));
  return width;
}

std::string pad(const std::string& text, size_t width, bool left) {
  const size_t w = display_width(text);
  const std::string fill(width > w ? width - w : 0, ' ');
  return left ? text + fill : fill + text;
}

constexpr size_t kGap = 2;  // spaces between columns

}  // namespace

size_t display_width(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::vector<std::string> wrap_words(const std::string& text, size_t width) {
  std::vector<std::string> lines;
  std::string line;
  for (const std::string& word : words_of(text)) {
    if (!line.empty() && display_width(line) + 1 + display_width(word) > width) {
      lines.push_back(line);
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty() || lines.empty()) lines.push_back(line);
  return lines;
}

bool TextTable::left_aligned(size_t column) const {
  return column == 0 || std::find(left_.begin(), left_.end(), column) != left_.end();
}

size_t TextTable::natural_width() const {
  size_t total = 0;
  for (size_t c = 0; c < header_.size(); ++c) {
    size_t width = widest(flow(header_[c], std::numeric_limits<size_t>::max()));
    for (const auto& row : rows_) {
      if (c < row.size()) {
        width = std::max(width, widest(flow(row[c], std::numeric_limits<size_t>::max())));
      }
    }
    total += width + (c > 0 ? kGap : 0);
  }
  return total;
}

std::vector<std::string> TextTable::take_constant_columns() {
  std::vector<std::string> taken;
  if (rows_.size() < 2) return taken;
  for (size_t c = header_.size(); c-- > 1;) {
    const bool constant = std::all_of(rows_.begin(), rows_.end(), [&](const auto& row) {
      return c < row.size() && row[c] == rows_.front()[c];
    });
    if (!constant) continue;
    taken.insert(taken.begin(), header_[c] + " " + rows_.front()[c]);
    header_.erase(header_.begin() + static_cast<std::ptrdiff_t>(c));
    for (auto& row : rows_)
      row.erase(row.begin() + static_cast<std::ptrdiff_t>(c));
    std::erase(left_, c);
    for (size_t& l : left_)
      l -= l > c ? 1 : 0;
  }
  return taken;
}

void TextTable::shorten_dotted_headers() {
  std::vector<std::string> shorter = header_;
  for (std::string& name : shorter) {
    const size_t dot = name.rfind('.');
    if (name.find(' ') == std::string::npos && dot != std::string::npos && dot > 0 &&
        dot + 1 < name.size() && letter(name[dot - 1]) && letter(name[dot + 1])) {
      name.erase(0, dot + 1);
    }
  }
  for (size_t c = 0; c < shorter.size(); ++c) {
    if (std::count(shorter.begin(), shorter.end(), shorter[c]) == 1) header_[c] = shorter[c];
  }
}

void TextTable::render_fitted(std::ostream& out, size_t width) {
  if (fitted_width(width) > width) {
    const std::vector<std::string> shared = take_constant_columns();
    // "every row: a 1, b 2, ...", a line broken between the pairs only.
    std::string line = "every row:";
    for (size_t i = 0; i < shared.size(); ++i) {
      const std::string part = (i > 0 ? ", " : " ") + shared[i];
      if (i > 0 && display_width(line + part) > width) {
        out << line << ",\n";
        line = "  " + shared[i];
      } else {
        line += part;
      }
    }
    if (!shared.empty()) out << line << '\n';
  }
  if (fitted_width(width) > width) shorten_dotted_headers();
  render_text(out, width);
}

const std::string& TextTable::cell(size_t row, size_t column) const {
  static const std::string kEmpty;
  if (row == 0) return header_[column];
  return column < rows_[row - 1].size() ? rows_[row - 1][column] : kEmpty;
}

std::vector<size_t> TextTable::fit_widths(size_t max_width) const {
  const size_t columns = header_.size();
  // Each column's width: as wide as its widest line; then, while the table is too wide, the
  // column that one character less makes the table grow by the fewest lines is narrowed
  // (the widest among equals), until the table fits or no cell can wrap further.
  struct Column {
    size_t width = 0;
    std::vector<size_t> lines;  ///< of each row, the header first
  };
  auto column = [&](size_t c, size_t limit) {
    Column out;
    for (size_t row = 0; row <= rows_.size(); ++row) {
      const std::vector<std::string> lines = flow(cell(row, c), limit);
      out.width = std::max(out.width, widest(lines));
      out.lines.push_back(lines.size());
    }
    return out;
  };
  std::vector<Column> shape(columns);
  size_t total = columns > 0 ? kGap * (columns - 1) : 0;
  for (size_t c = 0; c < columns; ++c) {
    shape[c] = column(c, std::numeric_limits<size_t>::max());
    total += shape[c].width;
  }
  // The table's lines were column `c` shaped as `candidate`.
  auto height_with = [&](size_t c, const Column& candidate) {
    size_t height = 0;
    for (size_t row = 0; row <= rows_.size(); ++row) {
      size_t tallest = candidate.lines[row];
      for (size_t other = 0; other < columns; ++other) {
        if (other != c) tallest = std::max(tallest, shape[other].lines[row]);
      }
      height += tallest;
    }
    return height;
  };
  while (total > max_width) {
    size_t best = columns;
    Column best_shape;
    size_t best_height = 0;
    for (size_t c = 0; c < columns; ++c) {
      Column narrower = column(c, shape[c].width - 1);
      if (narrower.width >= shape[c].width) continue;  // no cell can wrap further
      const size_t height = height_with(c, narrower);
      if (best == columns || height < best_height ||
          (height == best_height && shape[c].width > shape[best].width)) {
        best = c;
        best_height = height;
        best_shape = std::move(narrower);
      }
    }
    if (best == columns) break;
    total -= shape[best].width - best_shape.width;
    shape[best] = std::move(best_shape);
  }
  std::vector<size_t> widths(columns);
  for (size_t c = 0; c < columns; ++c)
    widths[c] = shape[c].width;
  return widths;
}

size_t TextTable::fitted_width(size_t max_width) const {
  const std::vector<size_t> widths = fit_widths(max_width);
  size_t total = widths.empty() ? 0 : kGap * (widths.size() - 1);
  for (size_t w : widths)
    total += w;
  return total;
}

void TextTable::render_text(std::ostream& out, size_t max_width) const {
  const size_t columns = header_.size();
  const std::vector<size_t> widths = fit_widths(max_width);
  for (size_t row = 0; row <= rows_.size(); ++row) {
    std::vector<std::vector<std::string>> lines(columns);
    size_t height = 1;
    for (size_t c = 0; c < columns; ++c) {
      lines[c] = flow(cell(row, c), widths[c]);
      height = std::max(height, lines[c].size());
    }
    for (size_t l = 0; l < height; ++l) {
      std::string text;
      for (size_t c = 0; c < columns; ++c) {
        if (c > 0) text += std::string(kGap, ' ');
        text += pad(l < lines[c].size() ? lines[c][l] : "", widths[c], left_aligned(c));
      }
      text.erase(text.find_last_not_of(' ') + 1);
      out << text << '\n';
    }
  }
}

void TextTable::render_markdown(std::ostream& out) const {
  auto line = [&](const std::vector<std::string>& cells) {
    out << '|';
    for (size_t i = 0; i < header_.size(); ++i) {
      std::string text = i < cells.size() ? cells[i] : "";
      std::replace(text.begin(), text.end(), '\n', ' ');
      out << ' ' << text << " |";
    }
    out << '\n';
  };
  line(header_);
  out << '|';
  for (size_t i = 0; i < header_.size(); ++i)
    out << (left_aligned(i) ? " --- |" : " ---: |");
  out << '\n';
  for (const auto& row : rows_)
    line(row);
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void TextTable::render_html(std::ostream& out) const {
  const auto row = [&](const std::vector<std::string>& cells, const char* tag) {
    out << "<tr>";
    for (size_t c = 0; c < header_.size(); ++c) {
      std::string text = html_escape(c < cells.size() ? cells[c] : "");
      for (size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at))
        text.replace(at, 1, "<br>");
      out << '<' << tag << (left_aligned(c) ? "" : " class=\"number\"") << '>' << text << "</"
          << tag << '>';
    }
    out << "</tr>\n";
  };
  out << "<table>\n<thead>";
  row(header_, "th");
  out << "</thead>\n<tbody>\n";
  for (const auto& cells : rows_)
    row(cells, "td");
  out << "</tbody>\n</table>\n";
}

}  // namespace memsim::tools
