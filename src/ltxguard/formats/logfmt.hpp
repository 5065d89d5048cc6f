// logfmt, as Go's log/slog TextHandler writes it: `key=value` pairs separated by spaces,
// values (and keys) quoted with strconv.Quote when they contain spaces, '=', '"' or
// control bytes. Litestream 0.3.12+ and 0.5 log in this form by default.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ltxguard::formats {

struct LogfmtField {
  std::string key;
  std::string value;  // unquoted, escapes decoded; "" for a bare key
};

// At most this many fields are returned from one line; the rest is ignored.
inline constexpr size_t kMaxLogfmtFields = 128;

// Splits one line into fields. Never fails: an unterminated quote takes the rest of the
// line, a token without '=' becomes a bare key with an empty value. Byte-safe on invalid
// UTF-8 (bytes pass through unchanged).
[[nodiscard]] std::vector<LogfmtField> parse_logfmt(std::string_view line);

// Decodes a Go strconv.Quote body (the text between the quotes): \" \\ \n \t \r \a \b \f
// \v \xHH \uHHHH \UHHHHHHHH and octal \NNN. Unknown escapes are kept as written.
[[nodiscard]] std::string unquote_go(std::string_view body);

}  // namespace ltxguard::formats
