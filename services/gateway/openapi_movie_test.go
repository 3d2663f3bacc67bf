package gateway

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"marquee/pkg/apperr"
	"marquee/pkg/events"
)

// TestOpenAPIMovieSchemas checks the document's movie against events.Movie, the one declaration of a movie's
// fields: the Movie schema has every field, each required (the answers never leave one out); MovieInput and
// MoviePatch have the writable ones (events.Fields), MovieInput requiring what Validate requires; every
// field has its JSON type; and every movie in an answer's example has every field. A field added to the Go
// type and not to the document, or the other way round, fails here.
func TestOpenAPIMovieSchemas(t *testing.T) {
	var doc struct {
		Paths      map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Required   []string                  `json:"required"`
				Properties map[string]map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	types := map[string][]string{} // a field's JSON types, by its name
	var all []string
	mt := reflect.TypeFor[events.Movie]()
	for i := range mt.NumField() {
		name, _, _ := strings.Cut(mt.Field(i).Tag.Get("json"), ",")
		all = append(all, name)
		types[name] = jsonTypes(t, mt.Field(i).Type)
	}
	var writable []string
	for _, f := range events.Fields {
		writable = append(writable, f.Name)
	}
	var required []string
	for name, msg := range apperr.FieldsOf((&events.Movie{}).Validate()) {
		if msg == "is required" {
			required = append(required, name)
		}
	}

	for _, s := range []struct {
		name             string
		fields, required []string
	}{
		{"Movie", all, all},
		{"MovieInput", writable, required},
		{"MoviePatch", writable, nil},
	} {
		schema, ok := doc.Components.Schemas[s.name]
		if !ok {
			t.Errorf("no schema %s", s.name)
			continue
		}
		if got, want := sorted(keys(schema.Properties)), sorted(s.fields); !slices.Equal(got, want) {
			t.Errorf("%s's properties are %v, want events.Movie's %v", s.name, got, want)
		}
		if got, want := sorted(schema.Required), sorted(s.required); !slices.Equal(got, want) {
			t.Errorf("%s requires %v, want %v", s.name, got, want)
		}
		for name, p := range schema.Properties {
			want, known := types[name]
			if !known {
				continue
			}
			var got []string
			switch v := p["type"].(type) {
			case string:
				got = []string{v}
			case []any:
				for _, x := range v {
					got = append(got, x.(string))
				}
			}
			if !slices.Equal(sorted(got), want) {
				t.Errorf("%s.%s has type %v, want %v", s.name, name, got, want)
			}
			if want[0] == "array" {
				if items, _ := p["items"].(map[string]any); items == nil || items["type"] != "string" {
					t.Errorf("%s.%s's items are %v, want strings", s.name, name, p["items"])
				}
			}
		}
	}

	// The movies in the answers' examples: an object with an id and a title.
	examples := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			_, id := v["id"]
			_, title := v["title"]
			if id && title && strings.Contains(path, "/responses/") && strings.Contains(path, "example") {
				examples++
				for _, name := range all {
					if _, ok := v[name]; !ok {
						t.Errorf("the example movie at %s has no %s", path, name)
					}
				}
			}
			for k, x := range v {
				walk(path+"/"+k, x)
			}
		case []any:
			for _, x := range v {
				walk(path+"/[]", x)
			}
		}
	}
	walk("", doc.Paths)
	if examples == 0 {
		t.Error("found no movie in the answers' examples")
	}
}

// jsonTypes is the JSON Schema type of a field of Go type t, sorted.
func jsonTypes(t *testing.T, typ reflect.Type) []string {
	t.Helper()
	var out []string
	if typ.Kind() == reflect.Pointer {
		out, typ = append(out, "null"), typ.Elem()
	}
	switch {
	case typ == reflect.TypeFor[time.Time](), typ.Kind() == reflect.String:
		out = append(out, "string")
	case typ.Kind() == reflect.Int || typ.Kind() == reflect.Int64:
		out = append(out, "integer")
	case typ.Kind() == reflect.Float64:
		out = append(out, "number")
	case typ.Kind() == reflect.Slice && typ.Elem().Kind() == reflect.String:
		out = append(out, "array")
	default:
		t.Fatalf("events.Movie has a field of type %s, which this test cannot map to JSON Schema", typ)
	}
	return sorted(out)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
