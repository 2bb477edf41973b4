package config

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestParseValues(t *testing.T) {
	cases := []struct {
		line string
		want any
	}{
		// Strings.
		{`A='single'`, "single"},
		{`A="double"`, "double"},
		{`A=''`, ""},
		{`A=""`, ""},
		{`A="it's"`, "it's"},
		{`A='say "hi"'`, `say "hi"`},
		{`A='a\'b'`, "a'b"},
		{`A="a\"b"`, `a"b`},
		{`A='a\\b'`, `a\b`},
		{`A='a\nb\tc\rd'`, "a\nb\tc\rd"},
		{`A='\a\b\f\v'`, "\a\b\f\v"},
		{`A='\0'`, "\x00"},
		{`A='\012'`, "\n"},
		{`A='\101\102'`, "AB"},
		{`A='\1'`, "\x01"},
		{`A='\18'`, "\x018"},
		{`A='\1234'`, "S4"},
		{`A='\x41\x42'`, "AB"},
		{`A='\xe9'`, "é"},
		{`A='\u00e9'`, "é"},
		{`A='\U0001F404'`, "🐄"},
		{`A='\q'`, `\q`},                   // Python keeps unknown escapes as written
		{`A='C:\path\dir'`, `C:\path\dir`}, // \p and \d are not escapes
		{`A='a#b'`, "a#b"},
		{`A="a#b" # a comment`, "a#b"},
		{`A='a # b'#c`, "a # b"},
		{`A='héllo wörld'`, "héllo wörld"},
		{`A='a=b'`, "a=b"},
		{`A='   '`, "   "},
		{`A=r'raw\n\d'`, `raw\n\d`},
		{`A=R"raw\x"`, `raw\x`},
		{`A=r''`, ""},
		{`A=r'a#b' # c`, "a#b"},
		// Python 3's prefixes: u and U change nothing, r and R make a raw
		// string, where a backslash stays but still keeps the quote after
		// it in the string.
		{`A = u'x'`, "x"},
		{`A=U"x"`, "x"},
		{`A=u''`, ""},
		{`A=u'a\nb\x41\u00e9'`, "a\nbAé"},
		{`A=u'it\'s' # c`, "it's"},
		{`A=R'raw\n'`, `raw\n`},
		{`A=r"raw\d"`, `raw\d`},
		{`A=r'a\'b'`, `a\'b`},
		{`A=r"a\"b"`, `a\"b`},
		{`A=r'a\\'`, `a\\`},
		{`A=r'C:\dir\\' # a trailing backslash, doubled`, `C:\dir\\`},
		{`A=r'"'`, `"`},
		// Whole numbers.
		{`A=0`, int64(0)},
		{`A=00`, int64(0)},
		{`A=0_0`, int64(0)},
		{`A=44444`, int64(44444)},
		{`A=-5`, int64(-5)},
		{`A=+5`, int64(5)},
		{`A=-0`, int64(0)},
		{`A=1_000`, int64(1000)},
		{`A=1_000_000`, int64(1000000)},
		{`A=0x1F`, int64(31)},
		{`A=0X1f`, int64(31)},
		{`A=0x_1f`, int64(31)},
		{`A=-0x10`, int64(-16)},
		{`A=0o17`, int64(15)},
		{`A=0O17`, int64(15)},
		{`A=0b101`, int64(5)},
		{`A=0B1_0`, int64(2)},
		{`A=9223372036854775807`, int64(math.MaxInt64)},
		{`A=-9223372036854775808`, int64(math.MinInt64)},
		{`A=0x7fffffffffffffff`, int64(math.MaxInt64)},
		// Floats.
		{`A=0.5`, 0.5},
		{`A=-1.5`, -1.5},
		{`A=1.`, 1.0},
		{`A=.5`, 0.5},
		{`A=1e3`, 1000.0},
		{`A=1E-3`, 0.001},
		{`A=1_000.5`, 1000.5},
		{`A=00.5`, 0.5},
		// Constants.
		{`A=True`, true},
		{`A=False`, false},
		{`A=None`, nil},
		{`A=True # yes`, true},
		{`A=True#yes`, true},
		{`A=44444#port`, int64(44444)},
	}
	for _, c := range cases {
		es, err := parse(c.line)
		if err != nil {
			t.Errorf("parse(%s) = %v", c.line, err)
			continue
		}
		if len(es) != 1 {
			t.Errorf("parse(%s) = %d entries, want 1", c.line, len(es))
			continue
		}
		e := es[0]
		if e.key != "A" || e.line != 1 {
			t.Errorf("parse(%s): key %q line %d", c.line, e.key, e.line)
		}
		if !reflect.DeepEqual(e.value, c.want) {
			t.Errorf("parse(%s) = %#v (%T), want %#v (%T)", c.line, e.value, e.value, c.want, c.want)
		}
	}
}

func TestParseLayout(t *testing.T) {
	text := "\ufeff# farm.cfg\r\n" +
		"\r\n" +
		"   # indented comment = with an equals sign\n" +
		"FARM_PORT = 44444\r\n" +
		"\tFARM_IF\t=\t'0.0.0.0'   # all interfaces\n" +
		"TESTING=True\n" +
		"   \n" +
		"RATIO = 0.25\n" +
		"lower_case_key = 'x'\n" +
		"_private=1\n" +
		"K2=None" // no final newline
	es, err := parse(text)
	if err != nil {
		t.Fatal(err)
	}
	want := []entry{
		{"FARM_PORT", int64(44444), 4},
		{"FARM_IF", "0.0.0.0", 5},
		{"TESTING", true, 6},
		{"RATIO", 0.25, 8},
		{"lower_case_key", "x", 9},
		{"_private", int64(1), 10},
		{"K2", nil, 11},
	}
	if !reflect.DeepEqual(es, want) {
		t.Errorf("parse = %#v,\nwant %#v", es, want)
	}
	// Repeated keys are all returned, in order.
	es, err = parse("A=1\nA=2\n")
	if err != nil || len(es) != 2 || es[0].value != int64(1) || es[1].value != int64(2) {
		t.Errorf("parse of a repeated key = %#v, %v", es, err)
	}
	// Empty and comment-only files have no entries.
	for _, text := range []string{"", "\n\n", "# only\n#comments", "\ufeff", "\r\n\r\n"} {
		es, err := parse(text)
		if err != nil || len(es) != 0 {
			t.Errorf("parse(%q) = %#v, %v; want nothing", text, es, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		text string
		line int
		want string // in the message
	}{
		{"FARM_PORT", 1, "expected KEY=VALUE"},
		{"# ok\n\nFARM_PORT 44444", 3, "expected KEY=VALUE"},
		{"A=1\r\nB=2\r\nfoo\r\n", 3, "no '='"},
		{"1ABC=1", 1, `"1ABC" is not a valid key`},
		{"'A-B'=1", 1, "is not a valid key"},
		{"A-B=1", 1, `"A-B" is not a valid key`},
		{"A B=1", 1, `"A B" is not a valid key`},
		{"=1", 1, `"" is not a valid key`},
		{"A.B=1", 1, "is not a valid key"},
		{"ÄB=1", 1, "is not a valid key"},
		{"A=", 1, "A: missing value"},
		{"A=   ", 1, "A: missing value"},
		{"A= # comment", 1, "A: missing value"},
		{"A=#", 1, "missing value"},
		{"x=1\nA='abc", 2, "A: unterminated string: no closing '"},
		{`A="abc`, 1, "unterminated string: no closing \""},
		{`A='abc"`, 1, "unterminated string"},
		{`A='abc\'`, 1, "unterminated string"},
		{`A='abc\`, 1, "backslash"},
		{`A=r'abc`, 1, "unterminated string"},
		{"A='''x'''", 1, "triple-quoted"},
		{`A="""x"""`, 1, "triple-quoted"},
		{"A='x\ny'", 1, "unterminated"},
		{"FARM_IF=localhost", 1, `FARM_IF: "localhost" is not a value`},
		{"FARM_IF=127.0.0.1", 1, "is not a value"},
		{"A=yes", 1, "is not a value"},
		{"A=true", 1, `"true" is not a Python literal`},
		{"A=false", 1, "not a Python literal"},
		{"A=TRUE", 1, "not a Python literal"},
		{"A=null", 1, "not a Python literal"},
		{"A=none", 1, "not a Python literal"},
		{"A='x' y", 1, `A: unexpected "y" after the value`},
		{"A='x'y", 1, "unexpected"},
		{"A=1 2", 1, `unexpected "2"`},
		{"A=True False", 1, "unexpected"},
		{"A='it''s'", 1, "unexpected"},
		{"A=1;B=2", 1, "is not a number"},
		{"A='x';", 1, "unexpected"},
		{"A==1", 1, "'==' is a comparison"},
		{"A = = 1", 1, "'=='"},
		{"A=0123", 1, "leading zeros"},
		{"A=-0123", 1, "leading zeros"},
		{"A=00123", 1, "leading zeros"},
		{"A=1__0", 1, "misplaced underscore"},
		{"A=1_", 1, "misplaced underscore"},
		{"A=0x__1", 1, "misplaced underscore"},
		{"A=0x", 1, "is not a number"},
		{"A=0xg", 1, "is not a number"},
		{"A=0b12", 1, "is not a number"},
		{"A=0o8", 1, "is not a number"},
		{"A=9223372036854775808", 1, "too large"},
		{"A=-9223372036854775809", 1, "too large"},
		{"A=99999999999999999999999", 1, "too large"},
		{"A=0x1ffffffffffffffff", 1, "too large"},
		{"A=1e999", 1, "is not a value"},
		{"A=inf", 1, "is not a value"},
		{"A=nan", 1, "is not a value"},
		{"A=--1", 1, "is not a value"},
		{"A=1.5.5", 1, "is not a value"},
		{"A=b'x'", 1, `A: b'...' is a bytes literal, not a string`},
		{`A=B"x"`, 1, "bytes literal"},
		{"A=rb'x'", 1, "bytes literal"},
		{"A=bR'x'", 1, "bytes literal"},
		{"A=Br''", 1, "bytes literal"},
		{"A=f'x'", 1, "f-string"},
		{"A=rF'x'", 1, "f-string"},
		{"A=ur'x'", 1, `"ur" is not a string prefix`},
		{"A=x'x'", 1, `"x" is not a string prefix`},
		{"A=uu'x'", 1, "not a string prefix"},
		{"A=abc'x'", 1, "is not a value"},
		{"A=u", 1, "is not a value"},
		{"A=u'x", 1, "unterminated string"},
		{"A=u'''x'''", 1, "triple-quoted"},
		{"A=r'''x'''", 1, "triple-quoted"},
		{`A=R"""x"""`, 1, "triple-quoted"},
		{`A=r'abc\'`, 1, "odd number of backslashes"},
		{`A=r'a\\\'`, 1, "odd number of backslashes"},
		{`A=r"a\"`, 1, "unterminated string: no closing \""},
		{`A=r'a\'b`, 1, "unterminated string"},
		{"A=[1]", 1, "is not a value"},
		{`A='\x4'`, 1, `bad \x escape`},
		{`A='\xzz'`, 1, `bad \x escape`},
		{`A='\x4`, 1, `truncated \x escape`},
		{`A='\u12'`, 1, `truncated \u escape`},
		{`A='\u12x4'`, 1, `bad \u escape`},
		{`A='\U00110000'`, 1, `bad \U escape`},
		{`A='\U0001F40`, 1, `truncated \U escape`},
		{"A=1\nB=2\nC=\xff\n", 3, "not valid UTF-8"},
		{"\xfe", 1, "not valid UTF-8"},
	}
	for _, c := range cases {
		es, err := parse(c.text)
		if err == nil {
			t.Errorf("parse(%q) = %#v, want an error", c.text, es)
			continue
		}
		le, ok := err.(*lineError)
		if !ok {
			t.Errorf("parse(%q) = %v (%T), want a *lineError", c.text, err, err)
			continue
		}
		if le.line != c.line {
			t.Errorf("parse(%q): error on line %d, want %d (%s)", c.text, le.line, c.line, le.msg)
		}
		if !strings.Contains(le.msg, c.want) {
			t.Errorf("parse(%q): message %q does not contain %q", c.text, le.msg, c.want)
		}
	}
}

// A malformed value of a key that names a secret is not shown in the
// message, nor is a password inside a URL.
func TestParseErrorsHideSecrets(t *testing.T) {
	for _, text := range []string{
		"DB_PASSWORD=hunter2",
		"API_TOKEN='hunter2' hunter2",
		"MY_SECRET=hunter2hunter2",
		"REMOTE=http://admin:hunter2@host:5984",
		"REMOTE='http://x' http://admin:hunter2@host",
	} {
		_, err := parse(text)
		if err == nil {
			t.Errorf("parse(%q) = nil, want an error", text)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("parse(%q) = %q: shows the secret", text, err)
		}
	}
}

func TestIdentifier(t *testing.T) {
	for _, s := range []string{"A", "a", "_", "_1", "FARM_PORT", "a1b2", "__X__"} {
		if !identifier(s) {
			t.Errorf("identifier(%q) = false", s)
		}
	}
	for _, s := range []string{"", "1", "1A", "A-B", "A B", "A.B", "é", "A$", "A\x00"} {
		if identifier(s) {
			t.Errorf("identifier(%q) = true", s)
		}
	}
}

func TestShow(t *testing.T) {
	if got := show("abc"); got != `"abc"` {
		t.Errorf("show(abc) = %s", got)
	}
	if got := show(strings.Repeat("x", 100)); got != `"`+strings.Repeat("x", 60)+`…"` {
		t.Errorf("show(100 x) = %s", got)
	}
}
