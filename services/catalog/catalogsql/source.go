package catalogsql

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// Source is where a catalog database lives: its dialect and the DSN Open takes for it.
type Source struct {
	Dialect string
	DSN     string
}

// AddonVariables are the environment variables hosted MySQL add-ons set to their database's URL, in the
// order they are read when no DSN is configured. DATABASE_URL counts only when it is a mysql:// URL (on
// Heroku it usually names a Postgres database).
var AddonVariables = []string{"JAWSDB_URL", "JAWSDB_MARIA_URL", "CLEARDB_DATABASE_URL", "DATABASE_URL"}

// AddonURL returns the first MySQL add-on URL the environment holds, and the variable it was read from.
func AddonURL(getenv func(string) string) (value, variable string) {
	for _, name := range AddonVariables {
		v := strings.TrimSpace(getenv(name))
		if v == "" || (name == "DATABASE_URL" && !hasMySQLScheme(v)) {
			continue
		}
		return v, name
	}
	return "", ""
}

func hasMySQLScheme(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	return ok && (strings.EqualFold(scheme, "mysql") || strings.EqualFold(scheme, "mariadb"))
}

// ParseSource reads a catalog database setting in any of the forms it is handed out in:
//
//   - "sqlite:<path>": a SQLite file;
//   - a go-sql-driver DSN, "user:pass@tcp(host:3306)/db?tls=true";
//   - a URL, "mysql://user:pass@host:3306/db", as MySQL add-ons give it: TLS when the server offers it
//     (preferred), or as asked for by
//     ssl-mode (DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY), sslmode (disable, prefer,
//     require, verify-ca, verify-full), ssl=true or tls (the driver's own values). REQUIRED encrypts
//     without checking the server's certificate, as MySQL's clients do; VERIFY_CA checks that a known
//     authority signed it, VERIFY_IDENTITY also that it names the host. Two parameters that ask for
//     different modes are refused.
//
// Its errors never hold the password.
func ParseSource(s string) (Source, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return Source{}, errors.New("no catalog database given")
	case strings.HasPrefix(s, "sqlite:"):
		return Source{Dialect: SQLite, DSN: strings.TrimPrefix(s, "sqlite:")}, nil
	case hasMySQLScheme(s):
		dsn, err := mysqlURLToDSN(s)
		if err != nil {
			return Source{}, err
		}
		return Source{Dialect: MySQL, DSN: dsn}, nil
	}
	if _, err := mysql.ParseDSN(s); err != nil {
		return Source{}, fmt.Errorf("the MySQL DSN is not valid (want user:password@tcp(host:3306)/database or mysql://user:password@host:3306/database): %w", err)
	}
	return Source{Dialect: MySQL, DSN: s}, nil
}

// tlsModes maps the URL parameters that ask for TLS, and their values, to the driver's tls setting.
var tlsModes = map[string]map[string]string{
	"ssl-mode": {"disabled": "false", "preferred": "preferred", "required": "skip-verify", "verify_ca": verifyCA, "verify_identity": "true"},
	"sslmode":  {"disable": "false", "prefer": "preferred", "require": "skip-verify", "verify-ca": verifyCA, "verify-full": "true"},
	"ssl":      {"true": "true", "1": "true", "false": "false", "0": "false"},
	"tls":      {"true": "true", "false": "false", "skip-verify": "skip-verify", "preferred": "preferred"},
}

// verifyCA is the driver's TLS config that checks the server's certificate chain against the system's
// authorities but not the host name it is for (the driver's "true" checks both): VERIFY_CA, for servers
// reached by an address their certificate does not name.
const verifyCA = "marquee-verify-ca"

var verifyCAConfig = &tls.Config{
	MinVersion:         tls.VersionTLS12,
	InsecureSkipVerify: true, // the chain is checked by verifyChain, without the host name
	VerifyConnection:   verifyChain,
}

func init() {
	if err := mysql.RegisterTLSConfig(verifyCA, verifyCAConfig); err != nil {
		panic(err)
	}
}

// trustedRoots are the authorities verifyChain trusts; nil: the system's.
var trustedRoots *x509.CertPool

// verifyChain checks that a known authority signed the server's certificate, whatever host it names.
func verifyChain(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the database server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: trustedRoots, Intermediates: inter})
	return err
}

// ignoredParams are URL parameters add-ons put in their URLs that mean nothing to this driver.
var ignoredParams = map[string]bool{"reconnect": true}

// mysqlURLToDSN turns a mysql:// URL into the driver's DSN.
func mysqlURLToDSN(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		// url.Error quotes the whole URL, password included.
		return "", errors.New("the catalog database URL is not a valid URL; want mysql://user:password@host:3306/database (percent-encode special characters in the password)")
	}
	if u.User == nil || u.User.Username() == "" {
		return "", errors.New("the catalog database URL names no user; want mysql://user:password@host:3306/database")
	}
	if u.Hostname() == "" {
		return "", errors.New("the catalog database URL names no host; want mysql://user:password@host:3306/database")
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return "", errors.New("the catalog database URL must name one database: mysql://user:password@host:3306/database")
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net = "tcp"
	port := u.Port()
	if port == "" {
		port = "3306"
	}
	cfg.Addr = net.JoinHostPort(u.Hostname(), port)
	cfg.DBName = db
	// An add-on's URL names no TLS mode: ask for TLS when the server offers it, as MySQL's own clients do.
	cfg.TLSConfig = "preferred"
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", errors.New("the catalog database URL's parameters are not valid")
	}
	askedBy := ""
	for key, values := range query {
		switch modes, ok := tlsModes[strings.ToLower(key)]; {
		case ok:
			for _, v := range values {
				mode, known := modes[strings.ToLower(v)]
				if !known {
					return "", fmt.Errorf("the catalog database URL's %s=%s is not a TLS mode this server knows", key, v)
				}
				if askedBy != "" && mode != cfg.TLSConfig {
					return "", fmt.Errorf("the catalog database URL asks for two TLS modes, %s and %s=%s: keep one", askedBy, key, v)
				}
				cfg.TLSConfig, askedBy = mode, key+"="+v
			}
		case ignoredParams[strings.ToLower(key)]:
		default:
			return "", fmt.Errorf("the catalog database URL's parameter %q is not one this server knows (TLS: ssl-mode, sslmode, ssl or tls)", key)
		}
	}
	dsn := cfg.FormatDSN()
	back, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("the catalog database URL does not make a valid DSN: %w", err)
	}
	// The DSN splits user and password at the first ':': a user name holding one would be read back as
	// another user with another password.
	if back.User != cfg.User || back.Passwd != cfg.Passwd || back.Addr != cfg.Addr || back.DBName != cfg.DBName {
		return "", errors.New("the catalog database URL's user name or database cannot be passed to the driver (a ':' in the user name?)")
	}
	return dsn, nil
}
