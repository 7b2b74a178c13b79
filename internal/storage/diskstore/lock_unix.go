//go:build unix

package diskstore

import (
	"errors"
	"os"
	"syscall"
)

// tryLock takes f's exclusive lock without waiting; false means another
// open of it (in this process or another) holds it.
func tryLock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

// lockOwn takes the lock of a folder just made under its staging name,
// which no other process locks.
func lockOwn(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
}

// freeSpace is how many bytes an unprivileged writer may still put in dir.
func freeSpace(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
