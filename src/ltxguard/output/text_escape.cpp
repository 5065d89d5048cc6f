#include "ltxguard/output/text_escape.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

namespace ltxguard::output {

size_t utf8_sequence(std::string_view s, size_t i, uint32_t* cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  size_t n = 0;
  uint32_t v = 0, min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2, v = b0 & 0x1Fu, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, v = b0 & 0x0Fu, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, v = b0 & 0x07u, min = 0x10000;
  } else {
    return 0;
  }
  if (n > s.size() - i) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b & 0x3Fu);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

bool is_deceptive_code_point(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
         cp == 0x2028 || cp == 0x2029 || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

enum class Backslash { escape, keep };

std::string escape(std::string_view s, Backslash backslash) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      out += backslash == Backslash::escape ? "\\\\" : "\\";
      ++i;
    } else if (c == '\n') {
      out += "\\n";
      ++i;
    } else if (c == '\r') {
      out += "\\r";
      ++i;
    } else if (c == '\t') {
      out += "\\t";
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    } else {
      uint32_t cp = 0;
      const size_t n = utf8_sequence(s, i, &cp);
      if (n == 0) {
        out += fmt::format("\\x{:02x}", c);
        ++i;
      } else if (is_deceptive_code_point(cp)) {
        out += fmt::format("\\u{:04x}", cp);
        i += n;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
    }
  }
  return out;
}

size_t longest_backtick_run(std::string_view s) {
  size_t longest = 0, run = 0;
  for (char c : s) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return longest;
}

}  // namespace

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool in_invalid_run = false;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    const size_t n = utf8_sequence(s, i, &cp);
    if (n == 0) {
      if (!in_invalid_run) out += kReplacement;
      in_invalid_run = true;
      ++i;
    } else {
      out.append(s.substr(i, n));
      in_invalid_run = false;
      i += n;
    }
  }
  return out;
}

std::string escape_text(std::string_view text) { return escape(text, Backslash::escape); }

std::string escape_log_line(std::string_view line) { return escape(line, Backslash::keep); }

std::string markdown_text(std::string_view text, MarkdownPlace place) {
  std::string out;
  for (char c : escape_text(text)) {
    if (c == '`' || (c == '|' && place == MarkdownPlace::table_cell)) out += '\\';
    out += c;
  }
  return out;
}

std::string markdown_code(std::string_view text, MarkdownPlace place) {
  std::string body;
  for (char c : escape_text(text)) {
    if (c == '|' && place == MarkdownPlace::table_cell) body += '\\';
    body += c;
  }
  const std::string fence(longest_backtick_run(body) + 1, '`');
  // CommonMark strips one space from each end of a span that starts and ends with one.
  const auto edge = [](char c) { return c == '`' || c == ' '; };
  const bool pad = !body.empty() && (edge(body.front()) || edge(body.back()));
  return pad ? fence + " " + body + " " + fence : fence + body + fence;
}

std::string markdown_code_block(const std::vector<std::string>& lines) {
  std::vector<std::string> escaped;
  size_t longest = 0;
  for (const auto& l : lines) {
    escaped.push_back(escape_log_line(l));
    longest = std::max(longest, longest_backtick_run(escaped.back()));
  }
  const std::string fence(std::max<size_t>(3, longest + 1), '`');
  std::string out = fence + "\n";
  for (const auto& l : escaped) out += l + "\n";
  return out + fence + "\n";
}

}  // namespace ltxguard::output
