package codec_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/codec"
)

// The fast object parse (its own duplicate-name check, the expected
// column first) gives the strict parse's fields and errors, word for
// word, on every input.
func FuzzObjectParseFastMatchesStrict(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":"x"}`, `{"b":2,"a":1}`, `{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"c":1,"c":2}`, `{"c":1,"d":2,"c":3}`,
		`{"a":{"x":1,"x":2}}`, `{"c":[{"x":1,"x":2}]}`, `{"a":[1,2],"b":{"c":null}}`, `{"a":"\u00e9\n","b":true}`,
		`{"a":1,}`, `{"a" 1}`, `{"a":1}x`, `[1]`, `{"a":"\xff"}`, `{"b":null,"a":false,"b":1}`, ` { "a" : 1 , "b" : 2 } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		fast, strict, fastErr, strictErr := codec.ParseObjectBothWays([]string{"a", "b"}, obj)
		if fmt.Sprint(fastErr) != fmt.Sprint(strictErr) {
			t.Fatalf("%q: fast error %v, strict %v", obj, fastErr, strictErr)
		}
		if fastErr != nil {
			return
		}
		for i := range fast {
			if fast[i].Kind != strict[i].Kind || !bytes.Equal(fast[i].Bytes, strict[i].Bytes) {
				t.Fatalf("%q: column %d fast %v %q, strict %v %q", obj, i, fast[i].Kind, fast[i].Bytes, strict[i].Kind, strict[i].Bytes)
			}
		}
	})
}
