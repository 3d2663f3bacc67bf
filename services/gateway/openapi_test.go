package gateway

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestOpenAPIIsComplete checks what a reader of the document relies on: every operation has an id, a tag,
// a summary, security, an access level that matches the router's, an example for every body it sends or
// receives (problems included), and every $ref resolves.
func TestOpenAPIIsComplete(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	resolve := func(v any) map[string]any {
		m, _ := v.(map[string]any)
		for i := 0; m != nil && i < 10; i++ {
			ref, ok := m["$ref"].(string)
			if !ok {
				return m
			}
			var cur any = doc
			for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
				obj, _ := cur.(map[string]any)
				cur = obj[part]
			}
			if cur == nil {
				t.Errorf("$ref %s does not resolve", ref)
				return nil
			}
			m, _ = cur.(map[string]any)
		}
		return m
	}
	// Every $ref anywhere resolves.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v["$ref"]; ok {
				resolve(v)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)

	tags := map[string]bool{}
	for _, tg := range doc["tags"].([]any) {
		tags[tg.(map[string]any)["name"].(string)] = true
	}
	ids := map[string]bool{}
	for path, item := range doc["paths"].(map[string]any) {
		for method, v := range item.(map[string]any) {
			if method == "parameters" {
				continue
			}
			op := v.(map[string]any)
			name := strings.ToUpper(method) + " " + path
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] {
				t.Errorf("%s: operationId %q missing or repeated", name, id)
			}
			ids[id] = true
			if s, _ := op["summary"].(string); s == "" {
				t.Errorf("%s: no summary", name)
			}
			if opTags, _ := op["tags"].([]any); len(opTags) != 1 || !tags[opTags[0].(string)] {
				t.Errorf("%s: tags %v are not one declared tag", name, op["tags"])
			}
			if sec, _ := op["security"].([]any); len(sec) == 0 {
				t.Errorf("%s: no security", name)
			}
			r, ok := matchRoute(strings.ToUpper(method), strings.NewReplacer("{", ":", "}", "").Replace(path))
			wantAccess := map[access]string{public: "public", admin: "admin", operator: "operator"}[r.access]
			if got, _ := op["x-marquee-access"].(string); !ok || got != wantAccess {
				t.Errorf("%s: x-marquee-access %q, the router says %q", name, got, wantAccess)
			}
			if rb := resolve(op["requestBody"]); rb != nil {
				for ct, media := range rb["content"].(map[string]any) {
					if _, ok := media.(map[string]any)["example"]; !ok {
						t.Errorf("%s: request body %s has no example", name, ct)
					}
				}
			}
			responses, _ := op["responses"].(map[string]any)
			if len(responses) == 0 {
				t.Errorf("%s: no responses", name)
			}
			for status, rv := range responses {
				resp := resolve(rv)
				if d, _ := resp["description"].(string); d == "" {
					t.Errorf("%s %s: no description", name, status)
				}
				content, _ := resp["content"].(map[string]any)
				for ct, media := range content {
					if _, ok := media.(map[string]any)["example"]; !ok {
						t.Errorf("%s %s: %s has no example", name, status, ct)
					}
					if status >= "400" && ct != "application/problem+json" {
						t.Errorf("%s %s: an error answer is %s, not problem+json", name, status, ct)
					}
				}
				if len(content) == 0 && status != "204" && status != "304" {
					t.Errorf("%s %s: no content", name, status)
				}
			}
			if _, ok := responses["429"]; !ok && path != "/healthz" && path != "/readyz" {
				t.Errorf("%s: the 429 answer is not documented", name)
			}
		}
	}
}
