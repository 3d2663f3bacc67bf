package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"marquee/pkg/freeport"
	"marquee/pkg/natsx/natsembed"
)

func TestRun(t *testing.T) {
	ns, err := natsembed.Run(natsembed.Options{StoreDir: t.TempDir(), Listen: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	addr := freeport.Addr(t)
	env := map[string]string{"MARQUEE_NATS_URL": ns.ClientURL(), "MARQUEE_STREAM": "TMAIN"}
	args := []string{"--addr", addr, "--data-dir", t.TempDir(), "--subject-prefix", "tmain"}

	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(k string) string { return env[k] }, &out, &out) }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			cancel()
			runErr := <-done
			t.Fatalf("not ready within 10s (last error %v); run: %v; log:\n%s", err, runErr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, out.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return within 15s of the signal")
	}
	for _, want := range []string{"stream=TMAIN", "subject_prefix=tmain", "nats_url=" + ns.ClientURL()} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("start-up log does not show %q:\n%s", want, out.String())
		}
	}
}

func TestRunRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{name: "unknown flag", args: []string{"--nope"}},
		{name: "bad addr flag", args: []string{"--addr", "nowhere"}},
		{name: "stray argument", args: []string{"search"}},
		{name: "bad stream from env", args: nil, env: map[string]string{"MARQUEE_STREAM": "A.B"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, &out, &out); err == nil {
				t.Errorf("run succeeded, want an error")
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, func(string) string { return "" }, &out, &out); !errors.Is(err, pflag.ErrHelp) {
		t.Fatalf("run --help: %v", err)
	}
	if !strings.Contains(out.String(), "--data-dir") || !strings.Contains(out.String(), "MARQUEE_DATA_DIR") {
		t.Errorf("help does not list --data-dir and its env:\n%s", out.String())
	}
}
