package codec

// ParseObjectBothWays parses obj for columns with the fast parse (the
// strict one taking over for nested values, as decoding does) and with
// the strict parse alone, for tests that compare the two.
func ParseObjectBothWays(columns []string, obj []byte) (fast, strict []RawField, fastErr, strictErr error) {
	p := newObjectParser(columns, DecoderOptions{})
	fast = make([]RawField, len(columns))
	fastErr = p.parseObject(obj, fast)
	q := newObjectParser(columns, DecoderOptions{})
	strict = make([]RawField, len(columns))
	q.src.Reset()
	q.src.Write(obj)
	q.strict.Reset(&q.src)
	strictErr = q.parseMembers(&q.strict, obj, strict, true)
	return fast, strict, fastErr, strictErr
}

// PageCodec is the zstd codec of Parquet pages.
type PageCodec = pageZstd

// PageWindow is its zstd window.
const PageWindow = pageWindow
