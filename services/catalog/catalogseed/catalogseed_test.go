package catalogseed

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFileRealData(t *testing.T) {
	movies, err := ReadFile(filepath.Join("..", "..", "..", "data", "imdb.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(movies), 248; got != want {
		t.Fatalf("movies = %d, want %d", got, want)
	}
	genres := map[string]bool{}
	titles := map[string][]string{}
	for _, m := range movies {
		for _, g := range m.Genres {
			if g != strings.TrimSpace(g) {
				t.Errorf("untrimmed genre %q in %q", g, m.Title)
			}
			genres[g] = true
		}
		if len(m.Directors) != 1 || m.Rating == nil || m.Popularity == nil {
			t.Errorf("incomplete movie %+v", m)
		}
		titles[m.Title] = append(titles[m.Title], m.Directors[0])
	}
	if got, want := len(genres), 28; got != want {
		t.Errorf("distinct genres = %d, want %d", got, want)
	}
	for _, title := range []string{"The Wizard of Oz", "Batman"} {
		if got := len(titles[title]); got != 2 {
			t.Errorf("%q appears %d times (%v), want 2", title, got, titles[title])
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		want    int
		wantErr string
	}{
		{"one record", `[{"99popularity": 83.0, "director": "Victor Fleming", "genre": ["Adventure", " Family"], "imdb_score": 8.3, "name": "The Wizard of Oz"}]`, 1, ""},
		{"empty array", `[]`, 0, ""},
		{"object, not array", `{"name": "x"}`, 0, "not a JSON array"},
		{"empty file", ``, 0, "not a JSON array"},
		{"array of strings", `["x"]`, 0, "record 0"},
		{"unknown key", `[{"99popularity": 1, "director": "d", "genre": ["g"], "imdb_score": 1, "name": "n", "year": 1}]`, 0, "unknown field"},
		{"missing name", `[{"99popularity": 1, "director": "d", "genre": ["g"], "imdb_score": 1}]`, 0, `missing "name"`},
		{"blank name", `[{"99popularity": 1, "director": "d", "genre": ["g"], "imdb_score": 1, "name": "  "}]`, 0, "not valid"},
		{"score out of range", `[{"99popularity": 1, "director": "d", "genre": ["g"], "imdb_score": 11, "name": "n"}]`, 0, "not valid"},
		{"trailing garbage", `[] x`, 0, "not a JSON array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.doc))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("got %d movies, want %d", len(got), tt.want)
			}
		})
	}
}

func TestParseTrimsGenres(t *testing.T) {
	got, err := Parse([]byte(`[{"99popularity": 83.0, "director": " Victor Fleming ", "genre": ["Adventure", " Family", " Family"], "imdb_score": 8.3, "name": "The Wizard of Oz "}]`))
	if err != nil {
		t.Fatal(err)
	}
	m := got[0]
	if m.Title != "The Wizard of Oz" || m.Directors[0] != "Victor Fleming" || strings.Join(m.Genres, "|") != "Adventure|Family" {
		t.Errorf("movie = %+v", m)
	}
	if err := m.Validate(); err != nil {
		t.Errorf("normalised movie does not validate: %v", err)
	}
}
