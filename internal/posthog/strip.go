package posthog

import (
	"strings"
	"unicode"
)

// Strip trims s exactly as PostHog trims a string before validating and
// storing it. PostHog's fields are Django REST framework CharFields, which
// strip surrounding whitespace with Python's str.strip(). Python's set of
// whitespace is Go's unicode.IsSpace plus the information separators
// U+001C–U+001F (File, Group, Record and Unit Separator), so
// strings.TrimSpace would keep characters PostHog drops: a value compared
// with what PostHog holds would then differ in a way no write could remove.
// Characters neither set holds, such as the zero-width space U+200B, are
// kept, as Python keeps them.
func Strip(s string) string {
	return strings.TrimFunc(s, isPythonSpace)
}

// isPythonSpace reports whether Python's str.isspace() holds for r.
func isPythonSpace(r rune) bool {
	return unicode.IsSpace(r) || isInformationSeparator(r)
}

// isInformationSeparator reports whether r is one of U+001C–U+001F, which
// Python counts as whitespace and Go does not.
func isInformationSeparator(r rune) bool {
	return r >= '\x1c' && r <= '\x1f'
}
