// Command baton is the Baton affiliate tracking server.
//
//	baton [flags]          serve (gRPC, gRPC-Web, Connect and plain HTTP on one port)
//	baton migrate [flags]  apply database migrations and exit
//	baton import [--dry-run] [flags] DIR
//	                       move an FC2/CATS program onto Baton from the CSV files in DIR
//	baton check [flags]    run a partner's integration check on a running Baton
//	baton backup [flags] FILE   write the database to FILE (pg_dump archive)
//	baton restore [flags] FILE  load a backup into a new data directory or empty database
//	baton help             list commands, flags and their BATON_* variables
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usage lists the commands; `baton help` prints it before the flags.
const usage = `Usage:
  baton [flags]                          serve gRPC, gRPC-Web, Connect and plain HTTP on one port
  baton migrate [flags]                  apply the database migrations and exit
  baton import [--dry-run] [flags] DIR   move an FC2/CATS program onto Baton from the CSV files
                                         in DIR (shops.csv, publishers.csv, sites.csv, offers.csv,
                                         conversions.csv); --dry-run checks every row, prints what
                                         would be created and writes nothing
  baton check --url URL --key-file FILE [--publisher ID]
                                         run an upstream partner's integration check on a running
                                         Baton: prints each hop and what to fix (baton check -h)
  baton backup [flags] FILE              write the database to FILE (a pg_dump archive); with the
                                         embedded PostgreSQL, stop Baton first. The master key is not
                                         in it: keep DATA_DIR/master.key (or BATON_MASTER_KEY) apart
  baton restore [flags] FILE             load a backup into a new data directory (or an empty
                                         BATON_DATABASE_URL) holding the backed-up Baton's master key
  baton help                             this list, and the flags with their BATON_* variables

Flags:
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "check" {
		return runCheck(args[1:], stdout, stderr)
	}
	cmd := "serve"
	if len(args) > 0 && (args[0] == "serve" || args[0] == "migrate" || args[0] == "import" || args[0] == "help" ||
		args[0] == "backup" || args[0] == "restore") {
		cmd, args = args[0], args[1:]
	}
	flagOut := stderr
	if cmd == "help" {
		args, flagOut = []string{"-h"}, stdout
		fmt.Fprint(stdout, usage)
	}
	var importDir string
	var dryRun bool
	if cmd == "import" {
		var rest []string
		for _, a := range args {
			switch a {
			case "--dry-run", "-dry-run":
				dryRun = true
			default:
				rest = append(rest, a)
			}
		}
		if len(rest) == 0 || strings.HasPrefix(rest[len(rest)-1], "-") {
			fmt.Fprint(stderr, "baton import: which directory? usage: baton import [--dry-run] [flags] DIR\n")
			return 2
		}
		importDir, args = rest[len(rest)-1], rest[:len(rest)-1]
	}
	var archive string
	if cmd == "backup" || cmd == "restore" {
		if len(args) == 0 || strings.HasPrefix(args[len(args)-1], "-") {
			fmt.Fprintf(stderr, "baton %s: which file? usage: baton %s [flags] FILE\n", cmd, cmd)
			return 2
		}
		archive, args = args[len(args)-1], args[:len(args)-1]
	}
	cfg, err := config.Load(args, config.Getenv, flagOut)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "baton: configuration: %v\n", err)
		return 2
	}
	log := app.NewLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.InfoContext(ctx, "baton starting", append([]any{"command", cmd}, cfg.LogAttrs()...)...)

	switch cmd {
	case "backup":
		if err := app.Backup(ctx, cfg, archive, log); err != nil {
			log.Error("backup failed", "error", err)
			return 1
		}
		fmt.Fprintf(stdout, "backup written to %s\n"+
			"It holds partner secrets sealed with the master key, not the key: keep a copy of the key\n"+
			"(%s, or BATON_MASTER_KEY) apart from the backups; restore needs it.\n",
			archive, filepath.Join(cfg.DataDir, "master.key"))
		return 0
	case "restore":
		if err := app.Restore(ctx, cfg, archive, log); err != nil {
			log.Error("restore failed", "error", err)
			return 1
		}
		fmt.Fprintf(stdout, "restored %s; start Baton on it (migrations run at start)\n", archive)
		return 0
	}
	db, err := app.OpenDatabase(ctx, cfg, log)
	if err != nil {
		log.Error("cannot open the database", "error", err)
		return 1
	}
	defer db.Close(context.Background())
	if cmd == "migrate" {
		log.Info("database is up to date")
		return 0
	}
	if cmd == "import" {
		ok, err := app.Import(ctx, db, importDir, dryRun, stdout)
		if err != nil {
			log.Error("import failed", "error", err)
			return 1
		}
		if !ok {
			return 1
		}
		return 0
	}

	key, err := app.Bootstrap(ctx, cfg, db.Store)
	if err != nil {
		log.Error("cannot bootstrap the admin key", "error", err)
		return 1
	}
	if key != "" {
		// Printed once, on the terminal, never logged: Baton keeps only its hash.
		fmt.Fprintf(stdout, "\nFirst admin API key (shown once; store it now):\n  %s\n\n", key)
	}
	if cfg.Demo {
		if err := app.SeedDemo(ctx, db.Store, stdout); err != nil {
			log.Error("cannot seed demo data", "error", err)
			return 1
		}
	}
	srv, err := app.New(cfg, log, db)
	if err != nil {
		log.Error("cannot build the server", "error", err)
		return 1
	}
	if err := srv.Serve(ctx, nil); err != nil {
		log.Error("server stopped", "error", err)
		return 1
	}
	log.Info("baton stopped")
	return 0
}
