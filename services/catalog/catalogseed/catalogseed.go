// Package catalogseed reads seed files of movies. The format is the imdb.json of the "Fynd IMDB" task
// (data/imdb.json): a JSON array of objects with exactly the keys 99popularity, director, genre, imdb_score
// and name. Records are kept as they are, duplicate titles included; only whitespace is trimmed.
package catalogseed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"marquee/services/catalog"
)

// record is one object of the file. Pointers tell a missing key from a zero value.
type record struct {
	Popularity *float64 `json:"99popularity"`
	Director   *string  `json:"director"`
	Genre      []string `json:"genre"`
	Score      *float64 `json:"imdb_score"`
	Name       *string  `json:"name"`
}

// ReadFile parses the seed file at path.
func ReadFile(path string) ([]catalog.MovieInput, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read seed file: %w", err)
	}
	movies, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("seed file %s: %w", path, err)
	}
	return movies, nil
}

// Parse parses a seed document into valid, normalised movie inputs, in file order. It rejects the whole
// document, naming the first bad record, if it is not a JSON array of such objects.
func Parse(data []byte) ([]catalog.MovieInput, error) {
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '[' {
		return nil, errors.New("not a JSON array of movies")
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not a JSON array of movies: %w", err)
	}
	out := make([]catalog.MovieInput, 0, len(raw))
	for i, r := range raw {
		in, err := parseRecord(r)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		out = append(out, in)
	}
	return out, nil
}

func parseRecord(data json.RawMessage) (catalog.MovieInput, error) {
	var r record
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return catalog.MovieInput{}, fmt.Errorf("not a movie object: %w", err)
	}
	switch {
	case r.Name == nil:
		return catalog.MovieInput{}, errors.New(`missing "name"`)
	case r.Director == nil:
		return catalog.MovieInput{}, errors.New(`missing "director"`)
	case r.Genre == nil:
		return catalog.MovieInput{}, errors.New(`missing "genre"`)
	case r.Score == nil:
		return catalog.MovieInput{}, errors.New(`missing "imdb_score"`)
	case r.Popularity == nil:
		return catalog.MovieInput{}, errors.New(`missing "99popularity"`)
	}
	in := catalog.MovieInput{
		Title:      *r.Name,
		Directors:  []string{*r.Director},
		Genres:     r.Genre,
		Rating:     r.Score,
		Popularity: r.Popularity,
	}
	if err := in.Validate(); err != nil {
		return catalog.MovieInput{}, fmt.Errorf("%q: %w", *r.Name, err)
	}
	return in, nil
}
