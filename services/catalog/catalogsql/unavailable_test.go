package catalogsql_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-sql-driver/mysql"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
	"marquee/services/catalog"
	"marquee/services/catalog/catalogsql"
)

// TestDatabaseOutageIsUnavailable points a MySQL store at a closed port, as during a MariaDB restart:
// every write and read fails as Unavailable (503 with Retry-After), never as an internal error (500).
func TestDatabaseOutageIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there any more: connection refused
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.DBName = "tcp", addr, "root", "marquee"
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { _ = db.Close() })
	d, _ := catalogsql.DialectOf(catalogsql.MySQL)
	store := catalogsql.New(db, d)
	ctx := context.Background()

	_, createErr := store.CreateMovie(ctx, "admin", catalog.MovieInput{Title: "Heat"}, catalog.CreateAnyway)
	_, updateErr := store.UpdateMovie(ctx, "admin", 1, 1, catalog.MovieInput{Title: "Heat"})
	_, deleteErr := store.DeleteMovie(ctx, "admin", 1, 0)
	_, readErr := store.Movie(ctx, 1)
	_, backlogErr := store.Backlog(ctx)
	for name, err := range map[string]error{"create": createErr, "update": updateErr, "delete": deleteErr, "read": readErr, "backlog": backlogErr} {
		if !apperr.Is(err, apperr.Unavailable) {
			t.Errorf("%s: %v (code %s), want %s", name, err, apperr.CodeOf(err), apperr.Unavailable)
			continue
		}
		var op *net.OpError
		if !errors.As(err, &op) {
			t.Errorf("%s: the cause is lost: %v", name, err)
		}
		w := httptest.NewRecorder()
		httpx.WriteError(w, httptest.NewRequest(http.MethodPost, "/v1/movies", nil), err)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
			t.Errorf("%s: answered %d, Retry-After %q; want 503 with Retry-After", name, w.Code, w.Header().Get("Retry-After"))
		}
	}
}

// TestConnectionErrorsAreUnavailable checks the driver errors that mean the database is away.
func TestConnectionErrorsAreUnavailable(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"invalid connection", mysql.ErrInvalidConn},
		{"lock wait timeout", &mysql.MySQLError{Number: 1205, Message: "Lock wait timeout exceeded"}},
		{"gone away", &mysql.MySQLError{Number: 2006, Message: "MySQL server has gone away"}},
		{"lost connection", &mysql.MySQLError{Number: 2013, Message: "Lost connection"}},
		{"shutdown", &mysql.MySQLError{Number: 1053, Message: "Server shutdown in progress"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := apperr.CodeOf(catalogsql.DBErr(tt.err)); got != apperr.Unavailable {
				t.Errorf("code %s, want unavailable", got)
			}
		})
	}
	if got := apperr.CodeOf(catalogsql.DBErr(&mysql.MySQLError{Number: 1064, Message: "syntax"})); got != apperr.Internal {
		t.Errorf("a syntax error: code %s, want internal", got)
	}
}
