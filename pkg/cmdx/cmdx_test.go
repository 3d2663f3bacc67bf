package cmdx_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"marquee/pkg/cmdx"
)

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	if err := cmdx.Healthcheck(srv.URL); err != nil {
		t.Fatalf("a 200 is healthy: %v", err)
	}
	status = http.StatusServiceUnavailable
	if err := cmdx.Healthcheck(srv.URL); err == nil {
		t.Fatal("a 503 is not healthy")
	}
	if err := cmdx.Healthcheck("http://127.0.0.1:1/readyz"); err == nil {
		t.Fatal("nothing listening is not healthy")
	}
}
