package database

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lib/pq"
)

// SQLite writers queue in Go: a second transaction waits for the first,
// in order, and one whose deadline passes first is told the database is
// busy (unavailable), not given an internal error. The bubble's clock and
// synctest.Wait put each writer in the queue before the next one comes:
// arrival order is known, not hoped for after a sleep.
func TestSQLiteWritersQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		db, err := Open(ctx, "", t.TempDir(), true, quiet)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		first, err := db.Ent.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if _, err := db.Ent.Tx(short); !errors.Is(err, ErrBusy) || !IsUnavailable(err) {
			t.Fatalf("second writer past its deadline: %v, want ErrBusy", err)
		}
		var order []int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				tx, err := db.Ent.Tx(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				tx.Rollback()
			})
			synctest.Wait() // writer i waits in the queue before i+1 starts
		}
		mu.Lock()
		waited := len(order)
		mu.Unlock()
		if waited != 0 {
			t.Fatalf("%d writers got in while the first transaction was open", waited)
		}
		if err := first.Commit(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if len(order) != 3 || order[0] != 0 || order[1] != 1 || order[2] != 2 {
			t.Errorf("writers ran in order %v, want [0 1 2]", order)
		}
	})
}

// Another process holding SQLite's write lock past busy_timeout makes a
// statement fail with SQLITE_BUSY; that is unavailable, as are the
// PostgreSQL codes for a server out of slots or shutting down.
func TestUnavailableCodes(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := Open(ctx, "", dir, true, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "filegraph.db")+"?_pragma=busy_timeout(0)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := db.SQL.BeginTx(ctx, nil) // holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	_, busy := other.ExecContext(ctx, "DELETE FROM uploads")
	if busy == nil {
		t.Fatal("a second writer got the lock")
	}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{busy, true},
		{&pq.Error{Code: "53300"}, true},  // too many connections
		{&pq.Error{Code: "53100"}, true},  // disk full
		{&pq.Error{Code: "57P03"}, true},  // cannot connect now
		{&pq.Error{Code: "08006"}, true},  // connection failure
		{&pq.Error{Code: "40P01"}, true},  // deadlock
		{&pq.Error{Code: "23505"}, false}, // unique violation: the statement's fault
		{&pq.Error{Code: "42P01"}, false}, // undefined table: a bug
		{errors.New("something else"), false},
	} {
		if got := IsUnavailable(c.err); got != c.want {
			t.Errorf("IsUnavailable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
