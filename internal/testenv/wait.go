package testenv

import (
	"testing"
	"time"
)

// WaitTimeout bounds WaitFor: long enough for a loaded shared machine,
// short enough that a condition that never holds fails the test instead of
// hanging it.
const WaitTimeout = 30 * time.Second

// WaitFor polls cond every 20ms until it holds, and fails the test naming
// what it waited for once WaitTimeout has passed.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", WaitTimeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
