package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/batonhq/baton/server/internal/auth"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/service"
)

// ReadProgram reads the CSV files of a program from dir (see
// service.ImportFiles). A .csv file of another name is refused, so that a
// misspelt file is not silently left out.
func ReadProgram(dir string) (map[string]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.EqualFold(filepath.Ext(name), ".csv") {
			continue
		}
		if !slices.Contains(service.ImportFiles, name) {
			return nil, fmt.Errorf("%s: unknown file: a program has %s", filepath.Join(dir, name), strings.Join(service.ImportFiles, ", "))
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		files[name] = string(b)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no program files (%s)", dir, strings.Join(service.ImportFiles, ", "))
	}
	return files, nil
}

// Import runs baton import over db: it checks every row of the program in
// dir and, unless dryRun or a row is refused, writes it. It prints what it
// did (or would do) and every refused row to out, and reports whether
// every row was accepted.
func Import(ctx context.Context, db *Database, dir string, dryRun bool, out io.Writer) (bool, error) {
	files, err := ReadProgram(dir)
	if err != nil {
		return false, err
	}
	st := db.Store
	im := service.NewImport(st, service.NewConfig(st, auth.NewKey), nil)
	res, err := im.Run(ctx, domain.Principal{Role: domain.RoleAdmin, KeyID: "import"}, files, dryRun)
	if err != nil {
		return false, err
	}
	if dryRun {
		fmt.Fprintf(out, "baton import --dry-run %s: nothing is written\n", dir)
	} else {
		fmt.Fprintf(out, "baton import %s\n", dir)
	}
	_, err = io.WriteString(out, service.FormatImport(res))
	return len(res.Problems) == 0, err
}
