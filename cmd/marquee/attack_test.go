package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

// hostileBodies are request bodies an attacker tries on every route: malformed, duplicated or differently
// cased fields, invisible or control-character text, unpaired surrogates, numbers out of range.
var hostileBodies = []string{
	``, `null`, `[]`, `{`, `{"title":"\u0000"}`, `{"title":"\u200b"}`, `{"title":"a\ud800"}`,
	`{"title":"a","title":"b"}`, `{"Title":"a"}`, `{"title":"a","popularity":1e308,"votes":9223372036854775807}`,
	`{"username":"root","username":"x","password":"` + strings.Repeat("p", 5000) + `"}`, "\xff\xfe",
}

// attack sends hostile requests to every operation of the OpenAPI document, as an anonymous caller, a user
// (token), and with forged credentials: none may get a 5xx, and none of them a 2xx on a route for admins
// or operators.
func attack(t *testing.T, base, userToken string) {
	t.Helper()
	raw, err := os.ReadFile("../../services/gateway/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	params := regexp.MustCompile(`\{[^}]+\}`)
	creds := map[string]string{
		"anonymous":    "",
		"user":         "Bearer " + userToken,
		"forged token": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJyb290Iiwicm9sZSI6ImFkbWluIn0.",
		"forged key":   "Bearer mq_" + strings.Repeat("A", 36),
		"huge key":     "Bearer mq_" + strings.Repeat("A", 6000),
		"basic":        "Basic cm9vdDpyb290",
	}
	var requests, fivexx, leaks int
	for path, ops := range doc.Paths {
		concrete := params.ReplaceAllString(path, "1")
		for method, rawOp := range ops {
			method = strings.ToUpper(method)
			var op struct {
				Access string `json:"x-marquee-access"`
			}
			if json.Unmarshal(rawOp, &op) != nil || op.Access == "" {
				continue // path-level parameters, not an operation
			}
			for _, m := range []string{method, "HEAD", "FOO"} {
				for who, cred := range creds {
					for _, body := range hostileBodies {
						for _, ct := range []string{"application/json", "text/plain"} {
							req, err := http.NewRequest(m, base+concrete, bytes.NewReader([]byte(body)))
							if err != nil {
								t.Fatal(err)
							}
							req.Header.Set("Content-Type", ct)
							req.Header.Set("If-Match", `W/"1`)
							if cred != "" {
								req.Header.Set("Authorization", cred)
							}
							res, err := http.DefaultClient.Do(req)
							if err != nil {
								t.Fatalf("%s %s: %v", m, concrete, err)
							}
							_, _ = io.Copy(io.Discard, res.Body)
							_ = res.Body.Close()
							requests++
							if res.StatusCode >= 500 {
								fivexx++
								t.Errorf("%s %s as %s with %q (%s): %d", m, concrete, who, body, ct, res.StatusCode)
							}
							if op.Access != "public" && m == method && res.StatusCode < 300 && res.StatusCode >= 200 {
								leaks++
								t.Errorf("%s %s (%s) as %s: %d", m, concrete, op.Access, who, res.StatusCode)
							}
						}
					}
				}
			}
		}
	}
	t.Logf("attack: %d requests, %d 5xx, %d unauthorized 2xx", requests, fivexx, leaks)
	if requests < 1000 {
		t.Fatalf("only %d requests: the OpenAPI document was not read as expected", requests)
	}
}
