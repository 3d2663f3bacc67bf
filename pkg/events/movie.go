package events

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"marquee/pkg/apperr"
)

// Movie is the full state of a movie as carried by an event (schema 1). It is also the movie's public
// representation: the catalog and search answer with exactly this JSON, the catalog stores it, clients write
// its writable fields (Fields) and pkg/ingest reads import files into it. It is the one declaration of a
// movie's fields. Lists are never null; strings are "" when unknown; numbers and external ids are null when
// unknown.
type Movie struct {
	ID               int64     `json:"id"`
	Title            string    `json:"title"`
	Year             *int      `json:"year"`
	Directors        []string  `json:"directors"`
	Cast             []string  `json:"cast"`
	Genres           []string  `json:"genres"`
	Overview         string    `json:"overview"`
	Tagline          string    `json:"tagline"`
	Keywords         []string  `json:"keywords"`
	Tags             []string  `json:"tags"`
	RuntimeMinutes   *int      `json:"runtime_minutes"`
	Rating           *float64  `json:"rating"`
	Votes            *int64    `json:"votes"`
	Popularity       *float64  `json:"popularity"`
	OriginalLanguage string    `json:"original_language"`
	Certification    string    `json:"certification"` // the age rating, as its board writes it: PG-13, R, 12A, FSK 12
	PosterURL        string    `json:"poster_url"`
	TMDBID           *int64    `json:"tmdb_id"`
	IMDbID           *string   `json:"imdb_id"`
	Version          int64     `json:"version"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// ServerFields are the JSON names of the fields the server sets and a client never writes.
var ServerFields = []string{"id", "version", "created_at", "updated_at"}

// Field is one of a movie's writable fields: a field of Movie that is not one of the ServerFields.
type Field struct {
	Name  string // the JSON name
	index int
}

// Fields are the writable fields, in Movie's order. What must go field by field (the catalog's SQL row, its
// history's diff, an import's merge) goes over Fields, so a new field of Movie needs no list of its own.
var Fields = writableFields()

func writableFields() []Field {
	t := reflect.TypeFor[Movie]()
	var out []Field
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if !t.Field(i).IsExported() || name == "" || name == "-" {
			panic(fmt.Sprintf("events.Movie.%s: a movie's field is exported and named in JSON", t.Field(i).Name))
		}
		if !isServerField(name) {
			out = append(out, Field{Name: name, index: i})
		}
	}
	return out
}

func isServerField(name string) bool {
	for _, s := range ServerFields {
		if s == name {
			return true
		}
	}
	return false
}

// Ptr returns a pointer to the field in m: a *string, a *[]string, or, for a field that can be null, a
// pointer to its pointer (**int, **string, …).
func (f Field) Ptr(m *Movie) any { return reflect.ValueOf(m).Elem().Field(f.index).Addr().Interface() }

// Value returns the field's value in m, a nil list as an empty one.
func (f Field) Value(m *Movie) any {
	v := reflect.ValueOf(m).Elem().Field(f.index).Interface()
	if l, ok := v.([]string); ok && l == nil {
		return []string{}
	}
	return v
}

// inputType is a struct of Movie's writable fields only, with their tags: what a client's write body decodes
// into, so that to a strict decoder the server's fields are unknown names like any other.
var inputType = func() reflect.Type {
	t := reflect.TypeFor[Movie]()
	fields := make([]reflect.StructField, len(Fields))
	for i, f := range Fields {
		fields[i] = t.Field(f.index)
	}
	return reflect.StructOf(fields)
}()

// DecodeInput decodes a write body, with decode (a strict JSON decoder), into a movie's writable fields.
func DecodeInput(data []byte, decode func(data []byte, v any) error) (Movie, error) {
	in := reflect.New(inputType)
	if err := decode(data, in.Interface()); err != nil {
		return Movie{}, err
	}
	var m Movie
	for i, f := range Fields {
		reflect.ValueOf(&m).Elem().Field(f.index).Set(in.Elem().Field(i))
	}
	return m, nil
}

// Input returns the movie's writable fields: m without the server's id, version and times.
func (m *Movie) Input() Movie {
	in := *m
	in.ID, in.Version, in.CreatedAt, in.UpdatedAt = 0, 0, time.Time{}, time.Time{}
	return in
}

// InputJSON returns m's writable fields as a JSON object, the write body of POST /v1/movies, leaving out
// the empty ones ("", null, []), which the body may leave out.
func (m *Movie) InputJSON() ([]byte, error) {
	b := []byte{'{'}
	for _, f := range Fields {
		v, err := json.Marshal(f.Value(m))
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", f.Name, err)
		}
		if s := string(v); s == "null" || s == `""` || s == "[]" {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(strconv.AppendQuote(b, f.Name), ':')
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

// FillLists makes each nil list of m empty, so that it is written as [], never null.
func (m *Movie) FillLists() {
	for _, f := range Fields {
		if l, ok := f.Ptr(m).(*[]string); ok && *l == nil {
			*l = []string{}
		}
	}
}

// Limits on a movie's fields.
const (
	MaxTitleLen     = 300
	MaxOverviewLen  = 10_000
	MaxTaglineLen   = 500
	MaxListItems    = 50  // directors, cast, genres
	MaxTagItems     = 100 // keywords, tags
	MaxListItemLen  = 200
	MaxPosterURLLen = 1000
	MaxCertLen      = 16
	MinYear         = 1870
	MaxYear         = 2100
	MaxRuntime      = 2000
	MaxRating       = 10
	MaxPopularity   = 1e6 // far above any real score; bounds what ranking must handle
	MaxVotes        = 1e9 // more votes than people who watch films
)

var (
	languageRE = regexp.MustCompile(`^[a-z]{2,3}$`)
	imdbIDRE   = regexp.MustCompile(`^tt[0-9]{5,10}$`)
	certRE     = regexp.MustCompile(`^[A-Z0-9][A-Z0-9 +/-]*$`)
)

// Validate normalises the writable fields of m in place (strings trimmed, the certification in upper case,
// list items trimmed and de-duplicated keeping the first occurrence, a blank imdb_id dropped) and then
// checks them. It returns an Invalid error naming every bad field. The server's fields are not looked at.
func (m *Movie) Validate() error {
	bad := map[string]string{}
	text := func(field string, s *string, max int, required, multiline bool) {
		*s = strings.TrimSpace(*s)
		switch n := utf8.RuneCountInString(*s); {
		case n == 0 && required:
			bad[field] = "is required"
		case n > max:
			bad[field] = fmt.Sprintf("must be at most %d characters", max)
		case n > 0:
			if msg := textProblem(*s, multiline); msg != "" {
				bad[field] = msg
			}
		}
	}
	text("title", &m.Title, MaxTitleLen, true, false)
	text("overview", &m.Overview, MaxOverviewLen, false, true)
	text("tagline", &m.Tagline, MaxTaglineLen, false, false)
	if m.Year != nil && (*m.Year < MinYear || *m.Year > MaxYear) {
		bad["year"] = fmt.Sprintf("must be between %d and %d", MinYear, MaxYear)
	}
	if m.RuntimeMinutes != nil && (*m.RuntimeMinutes < 1 || *m.RuntimeMinutes > MaxRuntime) {
		bad["runtime_minutes"] = fmt.Sprintf("must be between 1 and %d", MaxRuntime)
	}
	if m.Rating != nil && (math.IsNaN(*m.Rating) || *m.Rating < 0 || *m.Rating > MaxRating) {
		bad["rating"] = fmt.Sprintf("must be between 0 and %d", MaxRating)
	}
	if m.Popularity != nil && (math.IsNaN(*m.Popularity) || *m.Popularity < 0 || *m.Popularity > MaxPopularity) {
		bad["popularity"] = fmt.Sprintf("must be between 0 and %g", float64(MaxPopularity))
	}
	if m.Votes != nil && (*m.Votes < 0 || *m.Votes > MaxVotes) {
		bad["votes"] = fmt.Sprintf("must be between 0 and %d", int64(MaxVotes))
	}
	for _, l := range []struct {
		field string
		items *[]string
		max   int
	}{
		{"directors", &m.Directors, MaxListItems}, {"cast", &m.Cast, MaxListItems}, {"genres", &m.Genres, MaxListItems},
		{"keywords", &m.Keywords, MaxTagItems}, {"tags", &m.Tags, MaxTagItems},
	} {
		var msg string
		if *l.items, msg = cleanList(*l.items, l.max); msg != "" {
			bad[l.field] = msg
		}
	}
	m.OriginalLanguage = strings.TrimSpace(m.OriginalLanguage)
	if m.OriginalLanguage != "" && !languageRE.MatchString(m.OriginalLanguage) {
		bad["original_language"] = "must be 2 or 3 lower-case letters (ISO 639)"
	}
	m.Certification = strings.ToUpper(strings.TrimSpace(m.Certification))
	if c := m.Certification; c != "" && (len(c) > MaxCertLen || !certRE.MatchString(c)) {
		bad["certification"] = fmt.Sprintf("must be at most %d letters, digits, spaces, +, - or / (e.g. PG-13)", MaxCertLen)
	}
	m.PosterURL = strings.TrimSpace(m.PosterURL)
	if m.PosterURL != "" {
		if msg := checkURL(m.PosterURL); msg != "" {
			bad["poster_url"] = msg
		}
	}
	if m.TMDBID != nil && *m.TMDBID <= 0 {
		bad["tmdb_id"] = "must be a positive integer"
	}
	if m.IMDbID != nil {
		id := strings.TrimSpace(*m.IMDbID)
		switch {
		case id == "":
			m.IMDbID = nil
		case !imdbIDRE.MatchString(id):
			bad["imdb_id"] = `must look like "tt0133093" (tt and 5 to 10 digits)`
		default:
			m.IMDbID = &id
		}
	}
	if len(bad) > 0 {
		return apperr.InvalidFields("The movie is not valid.", bad)
	}
	return nil
}

// checkURL reports what is wrong with an absolute http(s) URL, or "".
func checkURL(s string) string {
	if len(s) > MaxPosterURLLen {
		return fmt.Sprintf("must be at most %d characters", MaxPosterURLLen)
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "must be a URL without spaces"
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "must be an absolute http or https URL"
	}
	return ""
}

// textProblem says what makes s unfit as text a person reads, or "": invalid UTF-8, control characters
// (NUL, escape sequences, …; tabs and line breaks are allowed in multiline text), or nothing visible at all
// (only spaces and invisible format characters such as zero-width spaces).
func textProblem(s string, multiline bool) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	visible := false
	for _, r := range s {
		switch {
		case multiline && (r == '\n' || r == '\r' || r == '\t'):
		case unicode.IsControl(r):
			return "must not contain control characters"
		case unicode.IsGraphic(r) && !unicode.IsSpace(r):
			visible = true
		}
	}
	if !visible {
		return "must contain a visible character"
	}
	return ""
}

// cleanList trims the items, drops repeats and reports the first problem. A nil list stays empty, not nil,
// so that it is stored and served as [].
func cleanList(items []string, max int) ([]string, string) {
	out := make([]string, 0, len(items))
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		it = strings.TrimSpace(it)
		switch {
		case it == "":
			return out, "must not contain empty items"
		case utf8.RuneCountInString(it) > MaxListItemLen:
			return out, fmt.Sprintf("items must be at most %d characters", MaxListItemLen)
		case textProblem(it, false) != "":
			return out, "items " + textProblem(it, false)
		case seen[it]:
			continue
		}
		seen[it] = true
		out = append(out, it)
	}
	if len(out) > max {
		return out, fmt.Sprintf("must have at most %d items", max)
	}
	return out, ""
}
