package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/farmhq/farm/redact"
)

var parseSeeds = []string{
	"FARM_PORT=44444\nFARM_IF='127.0.0.1'\nTESTING=True\n# comment\n",
	"\ufeffA = 'a#b' # c\r\nB=\"x\\ty\\x41\\u00e9\\U0001F404\\101\"\r\n",
	"A=r'raw\\d'\nB=0x1F\nC=1_000\nD=-5\nE=0.5\nF=None\nG=False\n",
	"A=-9223372036854775808\nB=0o17\nC=0b1_0\nD=1e3\nE=.5\n",
	"FARM_IF=localhost", "A==1", "A=0123", "A='''x'''", "A='x", "A='\\x4'",
	"1ABC=1", "A=true", "A='x' y", "A=", "A", "\xff", "A='\\",
	// String prefixes: u and r (any case) are strings, b and f are not.
	"A=u'x'\nB=U\"y\\n\"\nC=R'\\d'\nD=r\"a\\\"b\" # c\n",
	`A=r'a\\'` + "\n" + `B=r'a\'`, "A=b'x'", `A=Rb"x"`, "A=f'{x}'", "A=ur'x'", "A=u'''x'''", "A=r'",
}

// pyQuote writes s as a Python string literal that escapes everything
// but printable ASCII, varying the escape used with the rune.
func pyQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	rs := []rune(s)
	for i, r := range rs {
		nextOctal := i+1 < len(rs) && '0' <= rs[i+1] && rs[i+1] <= '7'
		switch {
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == 0 && !nextOctal:
			b.WriteString(`\0`)
		case r < 8 && !nextOctal:
			fmt.Fprintf(&b, `\%o`, r) // one octal digit
		case r < 0o100 && r != '#' && (r < ' ' || r == '"'):
			fmt.Fprintf(&b, `\%03o`, r)
		case ' ' <= r && r < 0x7f:
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// pyLiteral writes a parsed value back as a literal.
func pyLiteral(v any) string {
	switch t := v.(type) {
	case string:
		return pyQuote(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		return strconv.FormatFloat(t, 'e', -1, 64)
	}
	return pyRepr(v)
}

func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		lines := strings.Count(text, "\n") + 1
		es, err := parse(text)
		if err != nil {
			var le *lineError
			if !errors.As(err, &le) {
				t.Fatalf("parse error %v (%T) is not a *lineError", err, err)
			}
			if le.line < 1 || le.line > lines || le.msg == "" {
				t.Fatalf("parse error on line %d of %d: %q", le.line, lines, le.msg)
			}
			return
		}
		last := 0
		for _, e := range es {
			if !identifier(e.key) {
				t.Fatalf("key %q is not an identifier", e.key)
			}
			if e.line <= last || e.line > lines {
				t.Fatalf("entry %+v: line out of order or range (last %d, lines %d)", e, last, lines)
			}
			last = e.line
			switch v := e.value.(type) {
			case nil, bool, int64:
			case string:
				if !utf8.ValidString(v) {
					t.Fatalf("entry %+v: invalid UTF-8", e)
				}
			case float64:
				if math.IsInf(v, 0) || math.IsNaN(v) {
					t.Fatalf("entry %+v: not a finite number", e)
				}
			default:
				t.Fatalf("entry %+v: value of type %T", e, v)
			}
		}
		// Written back in canonical form, the entries read the same.
		var b strings.Builder
		for _, e := range es {
			fmt.Fprintf(&b, "%s = %s  # line %d\n", e.key, pyLiteral(e.value), e.line)
		}
		again, err := parse(b.String())
		if err != nil {
			t.Fatalf("canonical form %q does not parse: %v", b.String(), err)
		}
		if len(again) != len(es) {
			t.Fatalf("canonical form has %d entries, want %d", len(again), len(es))
		}
		for i := range es {
			if again[i].key != es[i].key || !reflect.DeepEqual(again[i].value, es[i].value) {
				t.Fatalf("entry %+v reads back as %+v from %q", es[i], again[i], b.String())
			}
		}
	})
}

// FuzzStringLiteral: any string, quoted with escapes, reads back as
// itself.
func FuzzStringLiteral(f *testing.F) {
	for _, s := range []string{"", "abc", "a'b\"c\\d", "\x00\x01\x07\x08\t\n\v\f\r\x1b", "é🐄\u2028\x7f\u0085", "#", "'''", `a\`, `a\\`, `a\'b`, `C:\dir\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "?")
		}
		lit := pyQuote(s)
		es, err := parse("K=" + lit + " # trailing comment 'x'")
		if err != nil {
			t.Fatalf("parse(K=%s) = %v", lit, err)
		}
		if len(es) != 1 || es[0].value != s {
			t.Fatalf("K=%s reads as %#v, want %q", lit, es, s)
		}
		// u'...' is the same string.
		if es, err := parse("K=u" + lit); err != nil || len(es) != 1 || es[0].value != s {
			t.Fatalf("K=u%s reads as %#v, %v; want %q", lit, es, err, s)
		}
		// Raw strings keep every byte, backslashes included; as in Python,
		// a backslash still keeps the quote after it in the string, so a
		// raw string cannot end in an odd number of backslashes.
		if !strings.ContainsAny(s, "'\n\r") {
			es, err := parse("K=r'" + s + "'")
			if trailing := len(s) - len(strings.TrimRight(s, `\`)); trailing%2 == 1 {
				if err == nil {
					t.Fatalf("K=r'%s' reads as %#v, want an error: its closing quote is escaped", s, es)
				}
			} else if err != nil || len(es) != 1 || es[0].value != s {
				t.Fatalf("K=r'%s' reads as %#v, %v", s, es, err)
			}
		}
		// With a backslash before each quote, quotes are in too.
		if !strings.ContainsAny(s, "\n\r") && !strings.HasSuffix(s, `\`) && !strings.Contains(s, `\'`) {
			raw := strings.ReplaceAll(s, `'`, `\'`)
			es, err := parse("K=R'" + raw + "' # c")
			if err != nil || len(es) != 1 || es[0].value != raw {
				t.Fatalf("K=R'%s' reads as %#v, %v; want %q", raw, es, err, raw)
			}
		}
	})
}

// FuzzIntLiteral: whole numbers in every base read back as themselves.
func FuzzIntLiteral(f *testing.F) {
	f.Add(int64(0), uint8(0))
	f.Add(int64(44444), uint8(1))
	f.Add(int64(-5), uint8(2))
	f.Add(int64(math.MinInt64), uint8(3))
	f.Add(int64(math.MaxInt64), uint8(4))
	f.Fuzz(func(t *testing.T, n int64, form uint8) {
		sign, u := "", uint64(n)
		if n < 0 {
			sign, u = "-", -uint64(n)
		}
		var lit string
		switch form % 5 {
		case 0:
			lit = sign + strconv.FormatUint(u, 10)
		case 1:
			lit = sign + "0x" + strconv.FormatUint(u, 16)
		case 2:
			lit = sign + "0o" + strconv.FormatUint(u, 8)
		case 3:
			lit = sign + "0b" + strconv.FormatUint(u, 2)
		case 4: // underscores every three digits
			d := strconv.FormatUint(u, 10)
			var b strings.Builder
			for i, c := range d {
				if i > 0 && (len(d)-i)%3 == 0 {
					b.WriteByte('_')
				}
				b.WriteRune(c)
			}
			lit = sign + b.String()
		}
		es, err := parse("N=" + lit)
		if err != nil || len(es) != 1 || es[0].value != n {
			t.Fatalf("N=%s reads as %#v, %v; want %d", lit, es, err, n)
		}
	})
}

// FuzzLoad: whatever the file and environment, Load does not panic, its
// errors name the file and line or the variable, and what it accepts is
// consistent and redacted.
func FuzzLoad(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add(s, "FARM_PORT", "8080")
	}
	f.Add("DB_PASSWORD='x'\nCOUCHDB_URL='http://a:b@c'\n", "DB_PASSWORD", "y")
	f.Add("X=1\nX=2\n", "X", "3")
	f.Add("", "TESTING", "maybe")
	f.Add("DATASTORE='couchdb'\n", "COUCHDB_URL", "")
	f.Add("WRITE_TOKEN_FILE=u'/srv/farm/write_token'\nFARM_IF=U'::1'\n", "WRITE_TOKEN_FILE", "/tmp/t")
	f.Add("SQLITE_PATH=r'C:\\farm\\farm.db'\nX=b'x'\n", "FARM_IF", "x")
	dir := f.TempDir()
	path := filepath.Join(dir, "farm.cfg")
	f.Fuzz(func(t *testing.T, text, envKey, envValue string) {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path, env(map[string]string{envKey: envValue}))
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, path+":") && !strings.HasPrefix(msg, "environment variable "+envKey+": ") &&
				!strings.HasPrefix(msg, "DATASTORE is CouchDB") {
				t.Fatalf("error %q names neither the file nor the variable", msg)
			}
			return
		}
		if c.File != path {
			t.Fatalf("File = %q", c.File)
		}
		if c.Port < 0 || c.Port > 65535 || c.MaxBodyBytes < 1 || c.SQLitePath == "" {
			t.Fatalf("out of range: %+v", c)
		}
		vals := c.Values()
		for _, s := range specs {
			if _, ok := vals[s.key]; !ok {
				t.Fatalf("Values lacks %s", s.key)
			}
			v, _ := c.Value(s.key)
			if _, err := s.accept(c, v); err != nil {
				t.Fatalf("%s = %#v, which its own check refuses: %v", s.key, v, err)
			}
		}
		for k, v := range vals {
			if redact.Key(k) && v != nil && v != "" && v != redact.Mask {
				t.Fatalf("Values()[%s] = %#v, not redacted", k, v)
			}
			if s, ok := v.(string); ok && s != redact.URLs(s) {
				t.Fatalf("Values()[%s] = %q shows a password", k, s)
			}
		}
		_ = c.ClientURL()
	})
}
