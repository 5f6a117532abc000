// Command verify streams JSON Lines files and prints their row count and
// the sum of one integer field, so outputs of different tools can be
// compared exactly.
//
//	go run ./bench/verify -field amount_cents FILE...
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"strconv"
)

func main() {
	field := flag.String("field", "amount_cents", "integer field to sum")
	flag.Parse()
	key := []byte(`"` + *field + `":`)
	var rows, sum int64
	for _, path := range flag.Args() {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "verify:", err)
			os.Exit(1)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			line := sc.Bytes()
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			rows++
			i := bytes.Index(line, key)
			if i < 0 {
				continue
			}
			v := bytes.TrimLeft(line[i+len(key):], " ")
			j := bytes.IndexAny(v, ",}")
			if j < 0 {
				continue
			}
			n, err := strconv.ParseFloat(string(bytes.TrimSpace(v[:j])), 64)
			if err != nil {
				continue // null
			}
			sum += int64(n)
		}
		if err := sc.Err(); err != nil {
			fmt.Fprintln(os.Stderr, "verify:", path, err)
			os.Exit(1)
		}
		f.Close()
	}
	fmt.Printf("%d %d\n", rows, sum)
}
