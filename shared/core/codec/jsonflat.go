package codec

import "unicode/utf8"

// scanFlat decodes obj without jsontext when it is the common case: one
// flat object of valid JSON whose strings hold no escapes and whose names
// do not repeat. It reports false, having decided nothing, for anything
// else (nested values, escapes, repeated names, any syntax error), which
// the full parse then reads and words exactly as before.
func (p *objectParser) scanFlat(obj []byte, fields []RawField) bool {
	p.unknown, p.next = p.unknown[:0], 0
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return p.flatDone(obj, i)
	}
	for {
		var ok bool
		if i, ok = p.flatMember(obj, i, fields); !ok {
			return false
		}
		i = skipSpace(obj, i)
		if i >= len(obj) {
			return false
		}
		switch obj[i] {
		case ',':
			i = skipSpace(obj, i+1)
		case '}':
			return p.flatDone(obj, i)
		default:
			return false
		}
	}
}

// flatDone reports whether only space follows the closing brace at
// obj[i], and then tells the unknown-key hook the names no column read.
func (p *objectParser) flatDone(obj []byte, i int) bool {
	if skipSpace(obj, i+1) != len(obj) {
		return false
	}
	if p.unknownKey != nil {
		for _, k := range p.unknown {
			p.unknownKey(k)
		}
	}
	return true
}

// flatMember reads the member at obj[i:] into fields and returns where
// it ends.
func (p *objectParser) flatMember(obj []byte, i int, fields []RawField) (int, bool) {
	key, i, ok := flatString(obj, i)
	if !ok {
		return 0, false
	}
	i = skipSpace(obj, i)
	if i >= len(obj) || obj[i] != ':' {
		return 0, false
	}
	i = skipSpace(obj, i+1)
	idx, want := p.column(key)
	if !want {
		for _, seen := range p.unknown {
			if string(seen) == string(key) {
				return 0, false
			}
		}
		p.unknown = append(p.unknown, key)
		if p.keys.unknown != "" {
			p.keys.sawUnknown(key)
		}
	} else if fields[idx].Kind != RawMissing {
		return 0, false
	}
	f, i, ok := flatValue(obj, i)
	if ok && want {
		fields[idx] = f
	}
	return i, ok
}

// flatValue reads a string, number, true, false or null at obj[i:].
func flatValue(obj []byte, i int) (RawField, int, bool) {
	if i >= len(obj) {
		return RawField{}, 0, false
	}
	switch c := obj[i]; {
	case c == '"':
		s, end, ok := flatString(obj, i)
		return RawField{Kind: RawString, Bytes: s}, end, ok
	case c == '-' || c >= '0' && c <= '9':
		end, ok := flatNumber(obj, i)
		if !ok {
			return RawField{}, 0, false
		}
		return RawField{Kind: RawNumber, Bytes: obj[i:end]}, end, true
	case c == 't':
		return flatLiteral(obj, i, "true", RawBool)
	case c == 'f':
		return flatLiteral(obj, i, "false", RawBool)
	case c == 'n':
		return flatLiteral(obj, i, "null", RawNull)
	}
	return RawField{}, 0, false
}

func flatLiteral(obj []byte, i int, lit string, k RawKind) (RawField, int, bool) {
	end := i + len(lit)
	if end > len(obj) || string(obj[i:end]) != lit {
		return RawField{}, 0, false
	}
	f := RawField{Kind: k}
	if k == RawBool {
		f.Bytes = obj[i:end]
	}
	return f, end, true
}

// flatString reads the string at obj[i:] (at its quote) and returns its
// text and where it ends; one with an escape, a control character or
// invalid UTF-8 is left to the full parse.
func flatString(obj []byte, i int) ([]byte, int, bool) {
	if i >= len(obj) || obj[i] != '"' {
		return nil, 0, false
	}
	start, ascii := i+1, true
	for j := start; j < len(obj); j++ {
		switch c := obj[j]; {
		case c == '"':
			s := obj[start:j]
			return s, j + 1, ascii || utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, 0, false
}

// flatNumber reads a JSON number at obj[i:] and returns where it ends.
func flatNumber(obj []byte, i int) (int, bool) {
	if obj[i] == '-' {
		i++
	}
	switch {
	case i >= len(obj):
		return 0, false
	case obj[i] == '0':
		i++
	case obj[i] >= '1' && obj[i] <= '9':
		i = digits(obj, i)
	default:
		return 0, false
	}
	if i < len(obj) && obj[i] == '.' {
		if j := digits(obj, i+1); j > i+1 {
			i = j
		} else {
			return 0, false
		}
	}
	if i < len(obj) && (obj[i] == 'e' || obj[i] == 'E') {
		i++
		if i < len(obj) && (obj[i] == '+' || obj[i] == '-') {
			i++
		}
		j := digits(obj, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
