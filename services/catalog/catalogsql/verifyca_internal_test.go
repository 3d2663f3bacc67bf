package catalogsql

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// TestVerifyCA: ssl-mode=VERIFY_CA accepts a server whose certificate a trusted authority signed for
// another name than the host dialled, and refuses one no trusted authority signed, over a real handshake.
func TestVerifyCA(t *testing.T) {
	caKey, ca := certificate(t, nil, nil, "Marquee test CA", true)
	leafKey, leaf := certificate(t, ca, caKey, "db.internal.example", false)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: leafKey}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			_ = c.Close()
		}
	}()
	src, err := ParseSource("mysql://u:pw@" + ln.Addr().String() + "/cat?ssl-mode=VERIFY_CA")
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := mysql.ParseDSN(src.DSN); err != nil || cfg.TLSConfig != verifyCA {
		t.Fatalf("ssl-mode=VERIFY_CA: DSN %v, %v; want TLS config %s", cfg, err, verifyCA)
	}
	dial := func() error {
		c, err := tls.Dial("tcp", ln.Addr().String(), verifyCAConfig.Clone())
		if err == nil {
			_ = c.Close()
		}
		return err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	trustedRoots = pool
	defer func() { trustedRoots = nil }()
	if err := dial(); err != nil {
		t.Errorf("a certificate the trusted authority signed for another name: %v", err)
	}
	trustedRoots = x509.NewCertPool()
	if err := dial(); err == nil {
		t.Error("a certificate no trusted authority signed was accepted")
	}
}

func certificate(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, name string, isCA bool) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: isCA, BasicConstraintsValid: true,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, c
}
