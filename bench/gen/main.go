// Command gen writes the reference benchmark input: a CSV of orders with a
// small share of dirty rows (emails without @, amounts that are not numbers).
// The output is deterministic for a given row count and seed.
//
//	go run ./bench/gen -rows 5000000 -o .bench/orders-5m.csv [-gzip]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"

	"github.com/klauspost/compress/gzip"
)

func main() {
	rows := flag.Int("rows", 1_000_000, "data rows to write")
	out := flag.String("o", "-", "output file (- for stdout)")
	gz := flag.Bool("gzip", false, "gzip the output")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if err := gen(*rows, *out, *gz, *seed); err != nil {
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

func gen(rows int, path string, gz bool, seed uint64) error {
	var w io.Writer = os.Stdout
	if path != "-" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(w)
		w = zw
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	bw.WriteString("order_id,user_id,email,amount,currency,status,country,created_at,product\n")
	var b []byte
	for i := range rows {
		b = b[:0]
		b = strconv.AppendInt(b, int64(10_000_000+i), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(100_000+r.IntN(900_000)), 10)
		b = append(b, ',')
		name := first[r.IntN(len(first))]
		b = append(b, name...)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(r.IntN(10000)), 10)
		if r.IntN(100) != 0 { // 1% of emails lack the @
			b = append(b, '@')
		} else {
			b = append(b, '_')
		}
		b = append(b, domains[r.IntN(len(domains))]...)
		b = append(b, ',')
		if r.IntN(200) != 0 { // 0.5% of amounts are not numbers
			b = strconv.AppendInt(b, int64(r.IntN(5000)), 10)
			b = append(b, '.')
			c := r.IntN(100)
			b = append(b, byte('0'+c/10), byte('0'+c%10))
		} else {
			b = append(b, "n/a"...)
		}
		b = append(b, ',')
		b = append(b, curr[r.IntN(len(curr))]...)
		b = append(b, ',')
		b = append(b, statuses[r.IntN(len(statuses))]...)
		b = append(b, ',')
		b = append(b, country[r.IntN(len(country))]...)
		b = append(b, ',')
		b = fmt.Appendf(b, "2026-%02d-%02dT%02d:%02d:%02dZ", 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60))
		b = append(b, ',')
		b = append(b, products[r.IntN(len(products))]...)
		b = append(b, '\n')
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if zw != nil {
		return zw.Close()
	}
	return nil
}
