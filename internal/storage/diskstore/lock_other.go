//go:build !unix

package diskstore

import (
	"errors"
	"os"
)

// tryLock cannot tell a live folder from a leftover here: every folder
// counts as live, so leftovers stay until removed by hand.
func tryLock(*os.File) (bool, error) { return false, nil }

func lockOwn(*os.File) error { return nil }

func freeSpace(string) (int64, error) { return 0, errors.ErrUnsupported }
