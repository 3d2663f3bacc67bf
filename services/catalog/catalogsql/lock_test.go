package catalogsql

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"
)

// TestLock: a named lock is one session's at a time; a second taker waits (saying so once) until the
// first releases it or its own context ends.
func TestLock(t *testing.T) {
	dsn := freshMySQL(t)
	ctx := context.Background()
	var dbs [2]*sql.DB
	for i := range dbs {
		db, err := Open(ctx, MySQL, dsn, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = db.Close() }()
		dbs[i] = db
	}
	const name = "marquee lock test"
	first, err := TakeLock(ctx, dbs[0], name, func() { t.Error("the first taker waited") })
	if err != nil {
		t.Fatal(err)
	}
	if held, err := first.Held(ctx); !held || err != nil {
		t.Fatalf("first holds: %v, %v", held, err)
	}

	waited := 0
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := TakeLock(short, dbs[1], name, func() { waited++ }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second taker while the first holds it: %v, want the context's deadline", err)
	}
	if waited != 1 {
		t.Errorf("the second taker said it waits %d times, want once", waited)
	}

	got := make(chan error, 1)
	go func() {
		second, err := TakeLock(ctx, dbs[1], name, nil)
		if err == nil {
			err = second.Release()
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second taker did not get the lock the first released")
	}
}
