package infer

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// validName is what a spec accepts as a field name.
var validName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// fieldNames gives each column a field name: its own when it is a valid
// one, else a sanitised one (lower case, accents dropped, each run of
// other characters an underscore, an underscore before a leading digit),
// made unique with a numeric suffix. The field reads the column through
// from: when the names differ.
func fieldNames(columns []string) []string {
	names := make([]string, len(columns))
	taken := map[string]bool{}
	for i, c := range columns {
		if validName.MatchString(c) && !taken[c] {
			names[i] = c
			taken[c] = true
		}
	}
	for i, c := range columns {
		if names[i] != "" {
			continue
		}
		base := sanitize(c)
		if base == "" {
			base = fmt.Sprintf("column_%d", i+1)
		}
		name := base
		for n := 2; taken[name]; n++ {
			name = fmt.Sprintf("%s_%d", base, n)
		}
		names[i] = name
		taken[name] = true
	}
	return names
}

// dropMarks strips combining marks after canonical decomposition: é
// becomes e.
var dropMarks = transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)

func sanitize(s string) string {
	if t, _, err := transform.String(dropMarks, s); err == nil {
		s = t
	}
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(s) {
		if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
			under = false
			continue
		}
		if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	out := strings.TrimRight(b.String(), "_")
	if out != "" && out[0] >= '0' && out[0] <= '9' {
		out = "_" + out
	}
	return out
}

// words splits a name into lower-case words at underscores, other
// punctuation and lower-to-upper case changes: createdAt is created, at.
func words(name string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	prevLower := false
	for _, r := range name {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			prevLower = false
			continue
		case unicode.IsUpper(r) && prevLower:
			flush()
		}
		cur = append(cur, r)
		prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
	}
	flush()
	return out
}

// hasWord reports whether name has one of the words.
func hasWord(name string, ws ...string) bool {
	for _, w := range words(name) {
		for _, x := range ws {
			if w == x {
				return true
			}
		}
	}
	return false
}
