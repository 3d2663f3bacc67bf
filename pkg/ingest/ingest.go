// Package ingest reads movie files for import: a JSON array or JSON Lines, gzip-compressed or not, in any
// of the formats Marquee knows: its own write body (also an exported movie), the imdb.json seed, and the
// TMDB-like catalog (movies.jsonl.gz). Each record is reported on its own, so one bad record never stops
// the rest; only an unreadable file is an error.
package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"marquee/pkg/events"
)

// Movie is one movie read from a file: its writable fields (events.Fields); the server's are zero.
type Movie = events.Movie

// Format names the shape a record was read in.
type Format string

// The formats Read understands.
const (
	Native Format = "marquee" // the API's write body, or a movie as the API returns it
	Seed   Format = "seed"    // data/imdb.json: name, director, genre, imdb_score, 99popularity
	TMDB   Format = "tmdb"    // movies.jsonl.gz: id, title, director, vote_average, vote_count, …
)

// Record is one record of a file: its 1-based position, its raw JSON, and the movie read from it or why
// it could not be read.
type Record struct {
	Index  int
	Source json.RawMessage
	Format Format
	Movie  Movie
	Err    error
}

// ReadFile reads the movies of the file at path; see Read.
func ReadFile(path string, fn func(Record) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := Read(f, fn); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Read reads movies from r and calls fn for each record in order; an error from fn stops the reading and
// is returned. r holds a JSON array of objects or JSON Lines (one object a line, blank lines ignored),
// optionally gzip-compressed.
func Read(r io.Reader, fn func(Record) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("read gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	first, err := firstByte(br)
	if err != nil {
		return err
	}
	if first == '[' {
		return readArray(br, fn)
	}
	return readLines(br, fn)
}

func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			return 0, errors.New("the file holds no movies")
		}
		if err != nil {
			return 0, err
		}
		if !isSpace(b) && b != 0xEF && b != 0xBB && b != 0xBF { // skip white space and a UTF-8 BOM
			return b, br.UnreadByte()
		}
	}
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// readArray decodes the elements of a JSON array one by one. A syntax error cannot be resynchronised in
// an array, so it ends the reading.
func readArray(r io.Reader, fn func(Record) error) error {
	dec := json.NewDecoder(r)
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("read JSON array: %w", err)
	}
	for i := 1; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		if err := fn(parse(i, raw)); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("read JSON array end: %w", err)
	}
	return nil
}

// readLines reads JSON Lines; a malformed line is a bad record, and reading goes on with the next line.
func readLines(r io.Reader, fn func(Record) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for i := 0; sc.Scan(); {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		i++
		if err := fn(parse(i, append(json.RawMessage(nil), line...))); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read JSON lines: %w", err)
	}
	return nil
}

// parse recognises a record's format by its keys and maps it to a Movie.
func parse(index int, raw json.RawMessage) Record {
	rec := Record{Index: index, Source: raw}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		rec.Err = fmt.Errorf("not a JSON object: %w", err)
		return rec
	}
	switch {
	case has(keys, "name") && (has(keys, "imdb_score") || has(keys, "99popularity")):
		rec.Format, rec.Err = Seed, parseSeed(raw, &rec.Movie)
	case has(keys, "vote_average") || has(keys, "vote_count") || has(keys, "metrics_snapshot") || has(keys, "sources") ||
		has(keys, "director") || has(keys, "runtime") || has(keys, "characters"):
		rec.Format, rec.Err = TMDB, parseTMDB(raw, &rec.Movie)
	default:
		rec.Format, rec.Err = Native, parseNative(raw, &rec.Movie)
	}
	return rec
}

func has(keys map[string]json.RawMessage, k string) bool { _, ok := keys[k]; return ok }

// strict decodes raw into v, rejecting unknown fields so that a typo in a field name is reported, not lost.
func strict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// decodeLoose decodes raw into v, ignoring unknown fields: for source formats with fields Marquee drops.
func decodeLoose(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}
