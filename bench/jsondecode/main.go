// Command jsondecode is the reference point for sluice's JSON Lines input:
// Go's encoding/json decoding the benchmark's JSON Lines into a struct,
// one record at a time from a buffered stream, as a plain Go program would.
// A record whose amount is not a number (the "n/a" rows) still decodes
// every other field; it is counted apart. It prints the records decoded,
// those with a type error, and the sum of the amounts in cents.
//
//	go run ./bench/jsondecode FILE
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// order is one record of bench/gen's JSON Lines output.
type order struct {
	OrderID   int64   `json:"order_id"`
	UserID    int64   `json:"user_id"`
	Email     string  `json:"email"`
	Amount    float64 `json:"amount"`
	Currency  string  `json:"currency"`
	Status    string  `json:"status"`
	Country   string  `json:"country"`
	CreatedAt string  `json:"created_at"`
	Product   string  `json:"product"`
}

type totals struct{ records, typeErrors, cents int64 }

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: jsondecode FILE")
		os.Exit(2)
	}
	t, err := decodeFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "jsondecode:", err)
		os.Exit(1)
	}
	fmt.Printf("%d %d %d\n", t.records, t.typeErrors, t.cents)
}

func decodeFile(path string) (totals, error) {
	f, err := os.Open(path)
	if err != nil {
		return totals{}, err
	}
	defer f.Close()
	t, err := decode(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return t, fmt.Errorf("decode %s: %w", path, err)
	}
	return t, nil
}

func decode(r io.Reader) (totals, error) {
	var t totals
	dec := json.NewDecoder(r)
	for {
		var o order
		err := dec.Decode(&o)
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return t, nil
		case errors.As(err, &typeErr):
			t.typeErrors++
		case err != nil:
			return t, fmt.Errorf("record %d: %w", t.records+1, err)
		default:
			t.cents += int64(math.Round(o.Amount * 100))
		}
		t.records++
	}
}
