package posthog

import (
	"testing"
	"unicode"
)

func TestStrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{name: "ASCII whitespace goes from both ends", in: " \t\nFrontend team\r\n", want: "Frontend team"},
		{name: "a file separator at the start goes", in: "\x1cteam", want: "team"},
		{name: "a group separator at the end goes", in: "team\x1d", want: "team"},
		{name: "a record separator between spaces goes", in: " \x1e team \x1e ", want: "team"},
		{name: "a unit separator at the end goes", in: "Frontend team\x1f", want: "Frontend team"},
		{name: "a no-break space goes", in: "\u00a0team\u00a0", want: "team"},
		{name: "a next line goes", in: "team\u0085", want: "team"},
		{name: "an ideographic space goes", in: "\u3000team\u3000", want: "team"},
		{name: "separators inside the value are kept", in: " a\x1cb\x1f c ", want: "a\x1cb\x1f c"},
		{name: "a zero-width space is kept, as Python keeps it", in: "\u200bteam\u200b", want: "\u200bteam\u200b"},
		{name: "a value of separators only is blank", in: "\x1c\x1d\x1e\x1f \t", want: ""},
		{name: "a clean value is unchanged", in: "frontend-team", want: "frontend-team"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Strip(tt.in); got != tt.want {
				t.Errorf("Strip(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// pythonWhitespace is every rune for which Python 3.11's str.isspace()
// holds, the set str.strip() removes: [c for c in range(0x110000) if chr(c).isspace()].
var pythonWhitespace = []rune{
	0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
	0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
	0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
}

func TestStripRemovesPythonsWhitespaceAndNothingElse(t *testing.T) {
	t.Parallel()
	python := map[rune]bool{}
	for _, r := range pythonWhitespace {
		python[r] = true
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if isPythonSpace(r) != python[r] {
			t.Errorf("U+%04X: stripped %v, Python strips %v", r, isPythonSpace(r), python[r])
		}
	}
}
