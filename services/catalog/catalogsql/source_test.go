package catalogsql_test

import (
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"marquee/services/catalog/catalogsql"
)

// TestParseSource: every form a catalog database is handed out in becomes the driver's DSN with the same
// user, password, address, database and TLS mode; a bad one is a clear error that never holds the password.
func TestParseSource(t *testing.T) {
	const pw = "s3cr%t:p@ss"
	for _, tc := range []struct {
		in                  string
		user, addr, db, tls string
		password            string
	}{
		{in: "u1:" + pw + "@tcp(db.example:3307)/cat", user: "u1", password: pw, addr: "db.example:3307", db: "cat"},
		{in: "u1:pw@tcp(db.example:3307)/cat?tls=skip-verify", user: "u1", password: "pw", addr: "db.example:3307", db: "cat", tls: "skip-verify"},
		{in: "mysql://jaws:s3cr%25t%3Ap%40ss@abc.cbetxkdyhwsb.us-east-1.rds.amazonaws.com:3306/x1y2z3", user: "jaws", password: pw, addr: "abc.cbetxkdyhwsb.us-east-1.rds.amazonaws.com:3306", db: "x1y2z3", tls: "preferred"},
		{in: "mysql://b1:pw@us-cdbr-east.cleardb.com/heroku_0a1b?reconnect=true", user: "b1", password: "pw", addr: "us-cdbr-east.cleardb.com:3306", db: "heroku_0a1b", tls: "preferred"},
		{in: "mariadb://m:pw@10.0.0.5:3306/cat", user: "m", password: "pw", addr: "10.0.0.5:3306", db: "cat", tls: "preferred"},
		{in: "mysql://u:pw@[::1]:3310/cat", user: "u", password: "pw", addr: "[::1]:3310", db: "cat", tls: "preferred"},
		{in: "mysql://u:pw@h/cat?ssl-mode=REQUIRED", user: "u", password: "pw", addr: "h:3306", db: "cat", tls: "skip-verify"},
		{in: "mysql://u:pw@h/cat?ssl-mode=VERIFY_IDENTITY", user: "u", password: "pw", addr: "h:3306", db: "cat", tls: "true"},
		{in: "mysql://u:pw@h/cat?ssl-mode=disabled", user: "u", password: "pw", addr: "h:3306", db: "cat", tls: "false"},
		{in: "mysql://u:pw@h/cat?sslmode=require&reconnect=true", user: "u", password: "pw", addr: "h:3306", db: "cat", tls: "skip-verify"},
		{in: "mysql://u:pw@h/cat?sslmode=verify-full", user: "u", password: "pw", addr: "h:3306", db: "cat", tls: "true"},
		{in: "mysql://u:pw@h/cat?ssl=true", user: "u", password: "pw", addr: "h:3306", db: "cat", tls: "true"},
		{in: "mysql://u:pw@h/cat?ssl-mode=VERIFY_CA", user: "u", password: "pw", addr: "h:3306", db: "cat", tls: "marquee-verify-ca"},
		{in: "mysql://u:pw@h/cat?sslmode=verify-ca", user: "u", password: "pw", addr: "h:3306", db: "cat", tls: "marquee-verify-ca"},
		{in: "mysql://u:pw@h/cat?ssl-mode=REQUIRED&sslmode=require&tls=skip-verify", user: "u", password: "pw", addr: "h:3306", db: "cat", tls: "skip-verify"},
		{in: "mysql://u:pw@h/cat?tls=preferred", user: "u", password: "pw", addr: "h:3306", db: "cat", tls: "preferred"},
		{in: "  mysql://u@h/cat  ", user: "u", addr: "h:3306", db: "cat", tls: "preferred"},
	} {
		src, err := catalogsql.ParseSource(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if src.Dialect != catalogsql.MySQL {
			t.Errorf("%s: dialect %s", tc.in, src.Dialect)
		}
		cfg, err := mysql.ParseDSN(src.DSN)
		if err != nil {
			t.Errorf("%s: the DSN made does not parse: %v", tc.in, err)
			continue
		}
		if cfg.User != tc.user || cfg.Passwd != tc.password || cfg.Net != "tcp" || cfg.Addr != tc.addr || cfg.DBName != tc.db || cfg.TLSConfig != tc.tls {
			t.Errorf("%s: user %q password %q %s(%s) db %q tls %q; want %q %q tcp(%s) %q %q", tc.in,
				cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName, cfg.TLSConfig, tc.user, tc.password, tc.addr, tc.db, tc.tls)
		}
	}

	if src, err := catalogsql.ParseSource("sqlite:/var/lib/marquee/catalog.db"); err != nil || src.Dialect != catalogsql.SQLite || src.DSN != "/var/lib/marquee/catalog.db" {
		t.Errorf("sqlite: %+v, %v", src, err)
	}

	const secret = "Hunter2-Secret"
	for _, in := range []string{
		"",
		"postgres://u:" + secret + "@h:5432/cat",
		"u:" + secret + "://@tcp(h:3306)/cat?x=y://z",
		"mysql://u:" + secret + "@h:3306/cat?x=%zz",
		"mysql://u:" + secret + "@h:3306/",
		"mysql://u:" + secret + "@h:3306/a/b",
		"mysql://:" + secret + "@h:3306/cat",
		"mysql://u:" + secret + "@:3306/cat",
		"mysql://u:" + secret + "@h:port/cat",
		"mysql://u:" + secret + "%zz@h:3306/cat",
		"mysql://u:" + secret + "@h:3306/cat?ssl-mode=sometimes",
		"mysql://u:" + secret + "@h:3306/cat?sql_mode=ANSI",
		"mysql://u:" + secret + "@h:3306/cat?ssl-mode=REQUIRED&tls=false",
		"mysql://u:" + secret + "@h:3306/cat?ssl-mode=VERIFY_IDENTITY&ssl-mode=DISABLED",
		"mysql://u%3Aadmin:" + secret + "@h:3306/cat",
		"u:" + secret + "@tcp(h:3306)",
		"u:" + secret + "@tcp(h:3306/cat",
	} {
		_, err := catalogsql.ParseSource(in)
		if err == nil {
			t.Errorf("%q: accepted", in)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%q: the error shows the password: %v", in, err)
		}
	}
}

// TestAddonURL: the add-ons' variables are read in order, and DATABASE_URL only when it is MySQL's.
func TestAddonURL(t *testing.T) {
	for _, tc := range []struct {
		env       map[string]string
		url, from string
	}{
		{env: map[string]string{}},
		{env: map[string]string{"DATABASE_URL": "postgres://u:p@h/db"}},
		{env: map[string]string{"DATABASE_URL": "mysql://u:p@h/db"}, url: "mysql://u:p@h/db", from: "DATABASE_URL"},
		{env: map[string]string{"CLEARDB_DATABASE_URL": "mysql://c@h/db", "DATABASE_URL": "mysql://d@h/db"}, url: "mysql://c@h/db", from: "CLEARDB_DATABASE_URL"},
		{env: map[string]string{"JAWSDB_MARIA_URL": "mysql://m@h/db", "CLEARDB_DATABASE_URL": "mysql://c@h/db"}, url: "mysql://m@h/db", from: "JAWSDB_MARIA_URL"},
		{env: map[string]string{"JAWSDB_URL": "mysql://j@h/db", "JAWSDB_MARIA_URL": "mysql://m@h/db"}, url: "mysql://j@h/db", from: "JAWSDB_URL"},
	} {
		url, name := catalogsql.AddonURL(func(k string) string { return tc.env[k] })
		if url != tc.url || name != tc.from {
			t.Errorf("%v: %q from %q, want %q from %q", tc.env, url, name, tc.url, tc.from)
		}
	}
}
