// Command batonimportgen writes a synthetic FC2 program for baton import,
// to measure it:
//
//	go run ./server/cmd/batonimportgen -dir /tmp/program -publishers 10000 -conversions 100000
//	time bin/baton import /tmp/program
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/batonhq/baton/server/internal/importgen"
)

func main() {
	dir := flag.String("dir", "", "directory to write the CSV files into (created)")
	pubs := flag.Int("publishers", 10000, "publishers, each with one site")
	convs := flag.Int("conversions", 100000, "past conversions")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "batonimportgen: -dir is required")
		os.Exit(2)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "batonimportgen:", err)
		os.Exit(1)
	}
	if err := importgen.Write(*dir, importgen.Program{Publishers: *pubs, Conversions: *convs, Now: time.Now()}); err != nil {
		fmt.Fprintln(os.Stderr, "batonimportgen:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote a program of %d publishers and %d conversions to %s\n", *pubs, *convs, *dir)
}
