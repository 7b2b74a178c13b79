package testenv

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TmpFiles lists the files in disk storage's temporary folders under
// dataDir (uploads in progress, parts being assembled), failing the test
// if they cannot be listed. Readiness checks' ping- files come and go in
// the same folders at any moment and are left out, so that a test counting
// what a transfer left does not count a probe.
func TmpFiles(t testing.TB, dataDir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(dataDir, "storage", "tmp"), func(path string, d os.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !d.IsDir() && !strings.HasPrefix(d.Name(), "ping-") {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listing the temporary folder: %v", err)
	}
	return out
}
