//go:build !linux

package diskstore

import (
	"errors"
	"os"
)

// startWriteback has no portable equivalent; the fsync does all the work.
func startWriteback(*os.File, int64, int64) {}

// setDirect: direct I/O is only used on Linux; elsewhere writes go through
// the page cache.
func setDirect(*os.File, bool) error { return errors.ErrUnsupported }
