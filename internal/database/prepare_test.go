package database

import (
	"context"
	"testing"
)

// With Prepare, a connection prepares a statement with parameters the
// second time it sends it, runs it by name from then on (in and out of
// transactions, failing as it would as text), plans per call, and leaves
// statements without parameters and one-offs alone; without, nothing is
// prepared.
func TestPrepare(t *testing.T) {
	pg := backends[1]
	if pg.name != "postgres" {
		t.Fatalf("backends[1] is %s", pg.name)
	}
	ctx := context.Background()
	for _, on := range []bool{true, false} {
		url, dir := pg.open(t)
		db, err := Open(ctx, url, dir, true, quiet, Prepare(on))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		conn, err := db.SQL.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		prepared := func(query string) int {
			t.Helper()
			var n int
			// No parameters: this statement itself is never prepared.
			if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM pg_prepared_statements WHERE statement = '"+query+"'").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		const add = "SELECT $1::int + 1"
		for i := range 3 {
			var got int
			if err := conn.QueryRowContext(ctx, add, i).Scan(&got); err != nil || got != i+1 {
				t.Fatalf("prepare=%v: call %d: %d, %v", on, i, got, err)
			}
			want := 0
			if on && i >= 1 {
				want = 1
			}
			if n := prepared(add); n != want {
				t.Fatalf("prepare=%v: after call %d, prepared %d times, want %d", on, i, n, want)
			}
		}
		const once = "SELECT $1::int + 2"
		if _, err := conn.ExecContext(ctx, once, 1); err != nil {
			t.Fatal(err)
		}
		if n := prepared(once); n != 0 {
			t.Fatalf("prepare=%v: a statement sent once was prepared", on)
		}
		// A failing statement fails alike prepared, and the connection goes on.
		const div = "SELECT 1 / $1::int"
		for i := range 3 {
			var got int
			if err := conn.QueryRowContext(ctx, div, 0).Scan(&got); err == nil {
				t.Fatalf("prepare=%v: call %d: 1/0 = %d", on, i, got)
			}
		}
		if err := conn.QueryRowContext(ctx, div, 1).Scan(new(int)); err != nil {
			t.Fatalf("prepare=%v: after the failures: %v", on, err)
		}
		// In a transaction, on its connection.
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		const insert = "INSERT INTO usages (owner, pending_count, pending_bytes, saved_count, saved_bytes) VALUES ($1, 1, 1, 0, 0)"
		for _, owner := range []string{"a", "b", "c"} {
			if _, err := tx.ExecContext(ctx, insert, owner); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		want := 0
		if on {
			want = 1
		}
		if n := prepared(insert); n != want {
			t.Fatalf("prepare=%v: the transaction's insert prepared %d times, want %d", on, n, want)
		}
		var rows int
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM usages").Scan(&rows); err != nil || rows != 0 {
			t.Fatalf("prepare=%v: %d usage rows after the rollback, %v", on, rows, err)
		}
		var mode string
		if err := conn.QueryRowContext(ctx, "SHOW plan_cache_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if want := map[bool]string{true: "force_custom_plan", false: "auto"}[on]; mode != want {
			t.Fatalf("prepare=%v: plan_cache_mode %s, want %s", on, mode, want)
		}
	}
}

func TestCustomPlans(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://db/app?binary_parameters=yes":      "postgres://db/app?binary_parameters=yes&plan_cache_mode=force_custom_plan",
		"postgres://db/app?plan_cache_mode=auto":       "postgres://db/app?plan_cache_mode=auto",
		"host=db dbname=app binary_parameters=yes":     "host=db dbname=app binary_parameters=yes plan_cache_mode=force_custom_plan",
		"host=db dbname=app plan_cache_mode=auto":      "host=db dbname=app plan_cache_mode=auto",
		"postgresql://u:p@db:5432/app?sslmode=require": "postgresql://u:p@db:5432/app?plan_cache_mode=force_custom_plan&sslmode=require",
	} {
		if got := customPlans(in); got != want {
			t.Errorf("customPlans(%q) = %q, want %q", in, got, want)
		}
	}
}
