// Command gen writes the reference benchmark input: orders with a small
// share of dirty rows (emails without @, amounts that are not numbers), as
// CSV or as JSON Lines, plain, gzipped or zstd-compressed. The rows are
// deterministic for a given row count and seed, and the same in every
// format: the JSON Lines copy holds the CSV's rows, with the ids and the
// amounts as JSON numbers and the dirty amounts as the string "n/a".
//
//	go run ./bench/gen -rows 5000000 -o .bench/orders-5m.csv [-gzip | -zstd]
//	go run ./bench/gen -rows 5000000 -format jsonl -o .bench/orders-5m.jsonl
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func main() {
	rows := flag.Int("rows", 1_000_000, "data rows to write")
	out := flag.String("o", "-", "output file (- for stdout)")
	format := flag.String("format", "csv", "csv or jsonl")
	gz := flag.Bool("gzip", false, "gzip the output")
	zs := flag.Bool("zstd", false, "zstd-compress the output")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if err := gen(*rows, *out, *format, *gz, *zs, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

var (
	first    = []string{"Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil"}
	domains  = []string{"example.com", "Example.org", "mail.example.net", "shop.example.co.uk"}
	statuses = []string{"paid", "paid", "paid", "pending", "refunded", "cancelled"}
	curr     = []string{"USD", "EUR", "GBP"}
	country  = []string{"US", "GB", "DE", "FR", "ES", "IT", "CA", "NL"}
	products = []string{"standard widget - size large", "deluxe widget - size medium", "gift card - twenty five", "spare part kit - model b", "subscription renewal - annual"}
)

// order is one generated row. Its values never need quoting in CSV or
// escaping in JSON: they are drawn from the lists above and digits.
type order struct {
	id, user         int64
	email            []byte
	amountOK         bool
	whole, cents     int
	currency, status string
	country          string
	createdAt        []byte
	product          string
}

// draw fills o with row i. The order of the random draws is the format's
// contract with earlier inputs: changing it changes every benchmark file.
func draw(r *rand.Rand, i int, o *order) {
	o.id = int64(10_000_000 + i)
	o.user = int64(100_000 + r.IntN(900_000))
	o.email = append(o.email[:0], first[r.IntN(len(first))]...)
	o.email = append(o.email, '.')
	o.email = strconv.AppendInt(o.email, int64(r.IntN(10000)), 10)
	if r.IntN(100) != 0 { // 1% of emails lack the @
		o.email = append(o.email, '@')
	} else {
		o.email = append(o.email, '_')
	}
	o.email = append(o.email, domains[r.IntN(len(domains))]...)
	o.amountOK = r.IntN(200) != 0 // 0.5% of amounts are not numbers
	if o.amountOK {
		o.whole = r.IntN(5000)
		o.cents = r.IntN(100)
	}
	o.currency = curr[r.IntN(len(curr))]
	o.status = statuses[r.IntN(len(statuses))]
	o.country = country[r.IntN(len(country))]
	o.createdAt = fmt.Appendf(o.createdAt[:0], "2026-%02d-%02dT%02d:%02d:%02dZ", 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60))
	o.product = products[r.IntN(len(products))]
}

func appendAmount(b []byte, o *order) []byte {
	b = strconv.AppendInt(b, int64(o.whole), 10)
	return append(b, '.', byte('0'+o.cents/10), byte('0'+o.cents%10))
}

const csvHeader = "order_id,user_id,email,amount,currency,status,country,created_at,product\n"

func appendCSV(b []byte, o *order) []byte {
	b = strconv.AppendInt(b, o.id, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, o.user, 10)
	b = append(b, ',')
	b = append(b, o.email...)
	b = append(b, ',')
	if o.amountOK {
		b = appendAmount(b, o)
	} else {
		b = append(b, "n/a"...)
	}
	for _, s := range []string{o.currency, o.status, o.country, string(o.createdAt), o.product} {
		b = append(b, ',')
		b = append(b, s...)
	}
	return append(b, '\n')
}

func appendJSON(b []byte, o *order) []byte {
	b = append(b, `{"order_id":`...)
	b = strconv.AppendInt(b, o.id, 10)
	b = append(b, `,"user_id":`...)
	b = strconv.AppendInt(b, o.user, 10)
	b = append(b, `,"email":"`...)
	b = append(b, o.email...)
	b = append(b, `","amount":`...)
	if o.amountOK {
		b = appendAmount(b, o)
	} else {
		b = append(b, `"n/a"`...)
	}
	b = appendJSONField(b, "currency", o.currency)
	b = appendJSONField(b, "status", o.status)
	b = appendJSONField(b, "country", o.country)
	b = appendJSONField(b, "created_at", string(o.createdAt))
	b = appendJSONField(b, "product", o.product)
	return append(b, "}\n"...)
}

func appendJSONField(b []byte, name, value string) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":"`...)
	b = append(b, value...)
	return append(b, '"')
}

func gen(rows int, path, format string, gz, zs bool, seed uint64) (err error) {
	appendRow := appendCSV
	switch format {
	case "csv":
	case "jsonl":
		appendRow = appendJSON
	default:
		return fmt.Errorf("unknown format %q (csv or jsonl)", format)
	}
	if gz && zs {
		return errors.New("-gzip and -zstd: pick one")
	}
	var w io.Writer = os.Stdout
	if path != "-" {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
		defer func() { err = errors.Join(err, f.Close()) }()
		w = f
	}
	var closer io.Closer
	switch {
	case gz:
		zw := gzip.NewWriter(w)
		w, closer = zw, zw
	case zs:
		zw, err := zstd.NewWriter(w)
		if err != nil {
			return fmt.Errorf("zstd: %w", err)
		}
		w, closer = zw, zw
	}
	if err := write(w, rows, seed, format == "csv", appendRow); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if closer != nil {
		return closer.Close()
	}
	return nil
}

func write(w io.Writer, rows int, seed uint64, header bool, appendRow func([]byte, *order) []byte) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	if header {
		bw.WriteString(csvHeader)
	}
	var (
		b []byte
		o order
	)
	for i := range rows {
		draw(r, i, &o)
		b = appendRow(b[:0], &o)
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}
