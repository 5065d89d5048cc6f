// Making bytes from the disk (paths, file names, process names, log lines) safe to print in a
// human-readable output: one field can never start a line of its own, forge a report line,
// break a Markdown table, or make a Prometheus scrape fail on invalid UTF-8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ltxguard::output {

// The length (1-4) of the valid UTF-8 sequence at text[i] and its code point in *cp, or 0
// when text[i] starts none (RFC 3629: no overlong forms, surrogates or values above U+10FFFF).
// i must be < text.size().
[[nodiscard]] size_t utf8_sequence(std::string_view text, size_t i, uint32_t* cp);

// Valid code points that change what a reader sees: C1 controls, line and paragraph
// separators, and the bidi marks, embeddings, overrides and isolates ("Trojan Source").
[[nodiscard]] bool is_deceptive_code_point(uint32_t cp);

// The text with each run of bytes that is not valid UTF-8 (stray continuation bytes, cut or
// overlong sequences, surrogates, above U+10FFFF) replaced by one U+FFFD, as Go's
// strings.ToValidUTF8(s, "\uFFFD") does and node_exporter does for mount points. Valid text
// comes back unchanged. Two label values that differ only in their invalid bytes become one.
[[nodiscard]] std::string valid_utf8(std::string_view text);

// The text printable on one line, in the style of `ls -b` and Go's %q: \n \r \t, \\ for a
// backslash, \xHH for other control bytes, DEL and each byte that is not valid UTF-8, \uHHHH
// for C1 controls, U+2028/U+2029 and the bidi controls that reorder what a reader sees.
// Everything else, spaces and valid non-ASCII text included, stays as it is.
[[nodiscard]] std::string escape_text(std::string_view text);

// escape_text for a line that already carries its writer's own backslash escapes (a logfmt
// log line): a backslash stays a single backslash; everything else is escaped the same way.
[[nodiscard]] std::string escape_log_line(std::string_view line);

// Where a Markdown fragment goes: GFM splits a table row at every unescaped '|', even inside
// a code span.
enum class MarkdownPlace { text, table_cell };

// escape_text, then '`' as \` (no code span can open) and, in a table cell, '|' as \| (the
// cell cannot be split). '\' is already doubled by escape_text, so no escape is undone.
[[nodiscard]] std::string markdown_text(std::string_view text, MarkdownPlace place);

// A Markdown code span showing escape_text(text): fenced with one backtick more than the
// longest backtick run inside, padded with a space when the text starts or ends with a
// backtick or a space; in a table cell '|' becomes \| (GFM removes that backslash inside code
// spans too).
[[nodiscard]] std::string markdown_code(std::string_view text, MarkdownPlace place);

// A fenced Markdown code block of `lines` (each through escape_log_line), fenced with at least
// three backticks and more than any backtick run inside, so no line can close it early.
[[nodiscard]] std::string markdown_code_block(const std::vector<std::string>& lines);

}  // namespace ltxguard::output
