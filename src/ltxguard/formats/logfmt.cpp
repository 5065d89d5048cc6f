#include "ltxguard/formats/logfmt.hpp"

#include <algorithm>
#include <cstdint>

namespace ltxguard::formats {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Reads n hex digits at body[i+1..i+n]; returns the value or -1.
int64_t read_hex(std::string_view body, size_t i, size_t n) {
  if (body.size() < i + 1 + n) return -1;
  int64_t v = 0;
  for (size_t k = 0; k < n; ++k) {
    const int d = hex_digit(body[i + 1 + k]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// Reads the quoted token starting at s[i] == '"' and moves i past its closing quote (or to
// the end of the line when it is unterminated).
std::string take_quoted(std::string_view s, size_t& i) {
  const size_t body_start = i + 1;
  for (size_t k = body_start; k < s.size(); ++k) {
    if (s[k] == '\\') {
      ++k;
    } else if (s[k] == '"') {
      i = k + 1;
      return unquote_go(s.substr(body_start, k - body_start));
    }
  }
  i = s.size();
  return unquote_go(s.substr(std::min(body_start, s.size())));
}

}  // namespace

std::string unquote_go(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      out += c;
      continue;
    }
    const char e = body[i + 1];
    switch (e) {
      case '"':
        out += '"';
        ++i;
        continue;
      case '\\':
        out += '\\';
        ++i;
        continue;
      case '\'':
        out += '\'';
        ++i;
        continue;
      case 'n':
        out += '\n';
        ++i;
        continue;
      case 't':
        out += '\t';
        ++i;
        continue;
      case 'r':
        out += '\r';
        ++i;
        continue;
      case 'a':
        out += '\a';
        ++i;
        continue;
      case 'b':
        out += '\b';
        ++i;
        continue;
      case 'f':
        out += '\f';
        ++i;
        continue;
      case 'v':
        out += '\v';
        ++i;
        continue;
      default:
        break;
    }
    const size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
    if (digits > 0) {
      const int64_t v = read_hex(body, i + 1, digits);
      if (v >= 0) {
        if (e == 'x') {
          out += static_cast<char>(static_cast<unsigned char>(v));
        } else {
          append_utf8(out, static_cast<uint32_t>(v));
        }
        i += 1 + digits;
        continue;
      }
    } else if (e >= '0' && e <= '7' && i + 3 < body.size()) {
      const char d2 = body[i + 2], d3 = body[i + 3];
      if (d2 >= '0' && d2 <= '7' && d3 >= '0' && d3 <= '7') {
        const int v = (e - '0') * 64 + (d2 - '0') * 8 + (d3 - '0');
        if (v <= 255) {
          out += static_cast<char>(static_cast<unsigned char>(v));
          i += 3;
          continue;
        }
      }
    }
    out += c;  // unknown escape: keep the backslash, the next byte follows normally
  }
  return out;
}

std::vector<LogfmtField> parse_logfmt(std::string_view s) {
  std::vector<LogfmtField> fields;
  size_t i = 0;
  while (i < s.size() && fields.size() < kMaxLogfmtFields) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i >= s.size()) break;
    LogfmtField f;
    if (s[i] == '"') {
      f.key = take_quoted(s, i);
    } else {
      const size_t start = i;
      while (i < s.size() && !is_space(s[i]) && s[i] != '=') ++i;
      f.key.assign(s.substr(start, i - start));
    }
    if (i < s.size() && s[i] == '=') {
      ++i;
      if (i < s.size() && s[i] == '"') {
        f.value = take_quoted(s, i);
      } else {
        const size_t start = i;
        while (i < s.size() && !is_space(s[i])) ++i;
        f.value.assign(s.substr(start, i - start));
      }
    } else if (f.key.empty() && i < s.size()) {
      ++i;  // a stray byte that starts nothing: step over it
      continue;
    }
    fields.push_back(std::move(f));
  }
  return fields;
}

}  // namespace ltxguard::formats
