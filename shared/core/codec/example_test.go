package codec_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sluice-etl/sluice/shared/core/codec"
)

func ExampleNewCSVDecoder() {
	in := "id,name,city\n" +
		"1,Ann,Oslo\n" +
		"2,\"Bob \"\"B\"\"\nBobson\",Rome\n" +
		"3,\"Cy\"x,Lima\n" +
		"4,Dee\n" +
		"5,Eve,Kyiv\n"
	d, err := codec.NewCSVDecoder(strings.NewReader(in), []string{"name", "id"}, codec.CSVOptions{Header: true}, codec.Range{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for {
		rec, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println("stream error:", err)
			return
		}
		if rec.Err != nil {
			fmt.Printf("record %d, line %d, byte %d: rejected (%v): %q\n", rec.Index, rec.Line, rec.Offset, rec.Err, rec.Raw)
			continue
		}
		fmt.Printf("record %d, line %d, byte %d: name=%q id=%s\n", rec.Index, rec.Line, rec.Offset, rec.Fields[0].Bytes, rec.Fields[1].Bytes)
	}
	fmt.Println("end at byte", d.End(), "after", d.Lines(), "lines")
	// Output:
	// record 1, line 2, byte 13: name="Ann" id=1
	// record 2, line 3, byte 24: name="Bob \"B\"\nBobson" id=2
	// record 3, line 5, byte 50: rejected (bad quoting: unexpected character after closing quote at byte 7 of the record): "3,\"Cy\"x,Lima"
	// record 4, line 6, byte 63: rejected (wrong number of columns: want 3, got 2): "4,Dee"
	// record 5, line 7, byte 69: name="Eve" id=5
	// end at byte 80 after 7 lines
}
