package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/farmhq/farm/redact"
)

// The original farm's configuration is a Python file that Flask executes:
// lines of KEY=VALUE with Python literals. farm reads the part of that
// language such files use, strictly, instead of executing anything:
//
//	# a comment
//	FARM_PORT = 44444          # whole numbers (also 0x.., 1_000, -5)
//	FARM_IF = '127.0.0.1'      # 'single' or "double" quoted strings, with escapes
//	NAME = u'farm'             # u'...' is '...'; r'...' is raw (no escapes); b'...' is refused
//	TESTING = True             # True, False, None
//	RATIO = 0.5                # floats, kept for keys farm does not know

// entry is one KEY=VALUE line of a file.
type entry struct {
	key   string
	value any // string, int64, float64, bool, or nil for None
	line  int
}

// lineError is a problem with one line of a file.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("%d: %s", e.line, e.msg) }

// parse reads the text of a configuration file. Keys may repeat (Python
// keeps the last); the caller decides what that means.
func parse(text string) ([]entry, error) {
	text = strings.TrimPrefix(text, "\ufeff")
	if !utf8.ValidString(text) {
		return nil, &lineError{line: firstInvalidLine(text), msg: "not valid UTF-8"}
	}
	var out []entry
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		eq := strings.IndexByte(trimmed, '=')
		if eq < 0 {
			// The line is not echoed: it may hold a secret.
			return nil, &lineError{n, "expected KEY=VALUE: the line has no '='"}
		}
		key := strings.TrimSpace(trimmed[:eq])
		if !identifier(key) {
			return nil, &lineError{n, fmt.Sprintf("%s is not a valid key (letters, digits and _, not starting with a digit)", show(key))}
		}
		rest := strings.TrimSpace(trimmed[eq+1:])
		if strings.HasPrefix(rest, "=") {
			return nil, &lineError{n, fmt.Sprintf("%s: '==' is a comparison, not an assignment", key)}
		}
		v, tail, err := literal(rest)
		if err != nil {
			return nil, &lineError{n, key + ": " + hideSecret(key, err.Error())}
		}
		tail = strings.TrimSpace(tail)
		if tail != "" && !strings.HasPrefix(tail, "#") {
			return nil, &lineError{n, key + ": " + hideSecret(key, fmt.Sprintf("unexpected %s after the value", show(tail)))}
		}
		out = append(out, entry{key: key, value: v, line: n})
	}
	return out, nil
}

// hideSecret keeps a message about a line's value from showing a secret:
// the whole message is replaced when the key names a secret, and passwords
// inside URLs are redacted otherwise.
func hideSecret(key, msg string) string {
	if redact.Key(key) {
		return "malformed value (not shown: the key names a secret); quote a string ('...'), or write a number, True, False or None"
	}
	return redact.URLs(msg)
}

func firstInvalidLine(text string) int {
	for i, l := range strings.Split(text, "\n") {
		if !utf8.ValidString(l) {
			return i + 1
		}
	}
	return 1
}

func identifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || i > 0 && '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

// show quotes a piece of a line for a message, shortened.
func show(s string) string {
	if r := []rune(s); len(r) > 60 {
		s = string(r[:60]) + "…"
	}
	return strconv.Quote(s)
}

// literal reads one Python literal at the start of s and returns it and
// what follows it.
func literal(s string) (any, string, error) {
	if s == "" || s[0] == '#' {
		return nil, "", fmt.Errorf("missing value")
	}
	if prefix, ok := stringPrefix(s); ok {
		body := s[len(prefix):]
		switch strings.ToLower(prefix) {
		case "", "u": // Python 3's u'...' is the same string as '...'
			return pyString(body)
		case "r":
			return rawString(body)
		case "b", "br", "rb":
			return nil, "", fmt.Errorf("%s%c...%c is a bytes literal, not a string: write it without the b", prefix, body[0], body[0])
		case "f", "fr", "rf":
			return nil, "", fmt.Errorf("%s%c...%c is an f-string, not a literal: write a plain string", prefix, body[0], body[0])
		}
		return nil, "", fmt.Errorf("%s is not a string prefix: quote a string ('...'), or write u'...' or r'...'", show(prefix))
	}
	end := strings.IndexAny(s, " \t#")
	if end < 0 {
		end = len(s)
	}
	word, tail := s[:end], s[end:]
	switch word {
	case "True":
		return true, tail, nil
	case "False":
		return false, tail, nil
	case "None":
		return nil, tail, nil
	case "true", "false", "TRUE", "FALSE", "none", "null":
		return nil, "", fmt.Errorf("%s is not a Python literal (write True, False or None)", show(word))
	}
	if n, err := pyInt(word); err == nil {
		return n, tail, nil
	} else if err != errNotNumber {
		return nil, "", err
	}
	if f, err := pyFloat(word); err == nil {
		return f, tail, nil
	}
	return nil, "", fmt.Errorf("%s is not a value: quote a string ('...'), or write a number, True, False or None", show(word))
}

var errNotNumber = fmt.Errorf("not a number")

// pyInt reads a Python integer literal: decimal (no leading zeros),
// 0x/0o/0b, with single underscores between digits, and an optional sign.
func pyInt(w string) (int64, error) {
	s := w
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, errNotNumber
	}
	base := 10
	if len(s) > 1 && s[0] == '0' {
		switch s[1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		if base != 10 {
			s = strings.TrimPrefix(s[2:], "_")
		}
	}
	if strings.ContainsAny(s, ".eE") && base == 10 {
		return 0, errNotNumber // a float
	}
	if strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") || strings.Contains(s, "__") {
		return 0, fmt.Errorf("%s: misplaced underscore in a number", show(w))
	}
	digits := strings.ReplaceAll(s, "_", "")
	if base == 10 && len(digits) > 1 && digits[0] == '0' && strings.Trim(digits, "0") != "" {
		return 0, fmt.Errorf("%s: leading zeros are not allowed in a decimal number", show(w))
	}
	u, err := strconv.ParseUint(digits, base, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("%s is too large", show(w))
		}
		return 0, fmt.Errorf("%s is not a number", show(w))
	}
	if u > math.MaxInt64 && !(neg && u == math.MaxInt64+1) {
		return 0, fmt.Errorf("%s is too large", show(w))
	}
	if neg {
		return -int64(u), nil // -(1<<63) wraps to itself, math.MinInt64
	}
	return int64(u), nil
}

func pyFloat(w string) (float64, error) {
	s := strings.TrimLeft(w, "+-")
	if s == "" || !(s[0] >= '0' && s[0] <= '9' || s[0] == '.') || strings.ContainsAny(s, "xXpP") {
		return 0, errNotNumber
	}
	if strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") || strings.Contains(s, "__") {
		return 0, errNotNumber
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(w, "_", ""), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, errNotNumber
	}
	return f, nil
}

// stringPrefix reports whether s starts with a string literal, and its
// prefix: the letters (none, or one or two, as Python's u, r, b, f, rb,
// fr) right before the opening quote.
func stringPrefix(s string) (string, bool) {
	for i := 0; i < len(s) && i <= 2; i++ {
		switch c := s[i]; {
		case c == '\'' || c == '"':
			return s[:i], true
		case !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'):
			return "", false
		}
	}
	return "", false
}

// tripleQuoted refuses a triple-quoted string, which may span lines; s
// starts at the opening quote.
func tripleQuoted(s string) error {
	if strings.HasPrefix(s, strings.Repeat(s[:1], 3)) {
		return fmt.Errorf("triple-quoted strings are not supported; use one line")
	}
	return nil
}

// pyString reads a quoted Python string with its escapes.
func pyString(s string) (any, string, error) {
	q := s[0]
	if err := tripleQuoted(s); err != nil {
		return nil, "", err
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), s[i+1:], nil
		case c == '\\':
			if i+1 >= len(s) {
				return nil, "", fmt.Errorf("unterminated string (a line cannot end in a backslash)")
			}
			i++
			switch e := s[i]; e {
			case '\\', '\'', '"':
				b.WriteByte(e)
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'v':
				b.WriteByte('\v')
			case '0', '1', '2', '3', '4', '5', '6', '7':
				// Python's octal escape: one to three octal digits.
				v := rune(e - '0')
				for k := 0; k < 2 && i+1 < len(s) && '0' <= s[i+1] && s[i+1] <= '7'; k++ {
					i++
					v = v*8 + rune(s[i]-'0')
				}
				b.WriteRune(v)
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if i+n >= len(s) {
					return nil, "", fmt.Errorf("truncated \\%c escape", e)
				}
				v, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32)
				if err != nil || v > utf8.MaxRune {
					return nil, "", fmt.Errorf("bad \\%c escape %s", e, show(s[i-1:i+1+n]))
				}
				b.WriteRune(rune(v))
				i += n
			default:
				// Python keeps unknown escapes as written.
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return nil, "", fmt.Errorf("unterminated string: no closing %c", q)
}

// rawString reads r'...' as Python does: no escapes, but a backslash
// still keeps the character after it in the string, a quote included
// (r'a\'b' is a\'b), so a raw string cannot end in an odd number of
// backslashes. s starts at the opening quote.
func rawString(s string) (any, string, error) {
	q := s[0]
	if err := tripleQuoted(s); err != nil {
		return nil, "", err
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case q:
			return s[1:i], s[i+1:], nil
		case '\\':
			i++ // the backslash and the character after it stay as they are
		}
	}
	if strings.HasSuffix(s, `\`+s[:1]) {
		return nil, "", fmt.Errorf("unterminated string: no closing %c (in a raw string a backslash still keeps the quote after it, so it cannot end in an odd number of backslashes)", q)
	}
	return nil, "", fmt.Errorf("unterminated string: no closing %c", q)
}
