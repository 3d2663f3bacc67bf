package main

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"marquee/pkg/config"
	"marquee/pkg/ingest"
)

// genConfig configures `marquee gen`, the synthetic catalog generator of the benchmarks.
type genConfig struct {
	Count int `key:"count" usage:"number of movies to generate"`
	// random_seed, not seed: MARQUEE_SEED is the seed file of serve and catalog.
	Seed     int64  `key:"random_seed" usage:"random seed; the same seed and source give the same output"`
	From     string `key:"from" usage:"real catalog whose distributions to follow (any format marquee import reads)"`
	Out      string `key:"out" usage:"output file, gzip-compressed when it ends in .gz; - for standard output (not a terminal)"`
	FirstID  int64  `key:"first_id" usage:"tmdb_id of the first movie; the i-th gets first_id+i, so a re-import upserts"`
	Progress bool   `key:"progress" usage:"show a progress bar (on a terminal)"`
}

// defaultGenSource is where gen learns its distributions unless --from says otherwise: the TMDB-like catalog
// beside a clone of the repository.
const defaultGenSource = "../shared/data/movies.jsonl.gz"

func newGenCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	cfg := genConfig{Count: 100_000, Seed: 1, From: defaultGenSource, Out: "-", FirstID: 10_000_000, Progress: true}
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Generate a synthetic movie catalog that follows a real one's distributions",
		Long: `Generate a deterministic, seeded catalog of synthetic movies as JSON Lines in
Marquee's write body, ready for "marquee import". Titles, overviews, taglines,
people, genres (with their co-occurrence), keywords, tags, years, ratings, votes,
runtimes, popularity and languages follow the distributions of --from, learned
at run time: nothing derived from the source is stored. Each movie has a unique
tmdb_id (--first-id + its index), so importing the file again updates in place.`,
		Example: `  marquee gen --count 1000000 --out var/movies-1m.jsonl.gz
  marquee gen --count 1000 --random-seed 7 --from data/imdb.json | head -1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := config.Load(cmd.Flags(), &cfg, getenv); err != nil {
				return err
			}
			if cfg.Count < 0 {
				return errors.New("--count must not be negative")
			}
			if (cfg.Out == "-" || cfg.Out == "") && isTerminal(stdout) {
				return fmt.Errorf("marquee gen writes %d movies of JSON Lines: name a file with --out (e.g. --out movies.jsonl.gz), or pipe it into a command", cfg.Count)
			}
			if _, err := os.Stat(cfg.From); errors.Is(err, os.ErrNotExist) {
				hint := "; give --from a catalog in any format marquee import reads, e.g. --from data/imdb.json"
				if cfg.From == defaultGenSource {
					hint = " (the default, the TMDB-like catalog beside a clone of the repository)" + hint
				}
				return fmt.Errorf("no catalog to learn from at %s%s", cfg.From, hint)
			}
			start := time.Now()
			model, err := learnCatalog(cfg.From)
			if err != nil {
				return err
			}
			bar := moviesBar(stderr, "generating", cfg.Count, showProgress(cfg.Progress, stderr))
			n, err := writeGenerated(cfg, model, stdout, func(done int) { _ = bar.Set(done) })
			if err != nil {
				return err
			}
			_ = bar.Finish()
			where := "standard output"
			if cfg.Out != "-" && cfg.Out != "" {
				where = cfg.Out
			}
			fmt.Fprintf(stderr, "Generated %d movies (%s) into %s in %s, learned from %s.\n",
				cfg.Count, byteSize(n), where, time.Since(start).Round(100*time.Millisecond), cfg.From)
			return nil
		},
	}
	config.Flags(cmd.Flags(), &cfg)
	return cmd
}

// writeGenerated writes cfg.Count movies of model to cfg.Out (or stdout for "-"), telling progress how many
// are written as it goes, and returns the bytes of JSON written.
func writeGenerated(cfg genConfig, model *catalogModel, stdout io.Writer, progress func(done int)) (written int64, err error) {
	var w io.Writer = stdout
	if cfg.Out != "-" && cfg.Out != "" {
		f, err := os.Create(cfg.Out)
		if err != nil {
			return 0, err
		}
		defer func() {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}()
		w = f
		if strings.HasSuffix(cfg.Out, ".gz") {
			zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
			defer func() {
				if cerr := zw.Close(); err == nil {
					err = cerr
				}
			}()
			w = zw
		}
	}
	counted := &countingWriter{w: w}
	bw := bufio.NewWriterSize(counted, 1<<20)
	if err := model.generate(bw, cfg.Seed, cfg.FirstID, cfg.Count, progress); err != nil {
		return counted.n, err
	}
	err = bw.Flush()
	return counted.n, err
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// byteSize is n bytes as a person reads it.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// sampler draws values in proportion to how often they were seen, in O(1) with Vose's alias method. Values
// are kept in a fixed order (most frequent first, ties by value), so a model learned twice from the same file
// draws the same values.
type sampler[T cmp.Ordered] struct {
	values []T
	prob   []float64 // chance of keeping column i rather than taking alias[i]
	alias  []int32
}

func newSampler[T cmp.Ordered](counts map[T]int) *sampler[T] {
	s := &sampler[T]{}
	for v := range counts {
		s.values = append(s.values, v)
	}
	slices.SortFunc(s.values, func(a, b T) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	n := len(s.values)
	total := 0
	for _, v := range s.values {
		total += counts[v]
	}
	s.prob, s.alias = make([]float64, n), make([]int32, n)
	scaled := make([]float64, n)
	var small, large []int32
	for i, v := range s.values {
		scaled[i] = float64(counts[v]) * float64(n) / float64(total)
		if scaled[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		l, g := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		s.prob[l], s.alias[l] = scaled[l], g
		scaled[g] += scaled[l] - 1
		if scaled[g] < 1 {
			large = large[:len(large)-1]
			small = append(small, g)
		}
	}
	for _, i := range append(small, large...) {
		s.prob[i], s.alias[i] = 1, i
	}
	return s
}

func (s *sampler[T]) draw(r *rand.Rand) T {
	var zero T
	if len(s.values) == 0 {
		return zero
	}
	i := r.IntN(len(s.values))
	if r.Float64() >= s.prob[i] {
		i = int(s.alias[i])
	}
	return s.values[i]
}

// counter counts values for a sampler.
type counter[T cmp.Ordered] map[T]int

func (c counter[T]) add(v T) { c[v]++ }

// catalogModel holds the distributions learned from a real catalog. Counts of words, names and list
// lengths include zero for "absent", and numeric fields use -1 for "absent", so presence rates are learned
// with the values.
type catalogModel struct {
	titleLen, overviewLen, taglineLen   *sampler[int]
	titleWords, overviewWords, tagWords *sampler[string]
	taglineWords                        *sampler[string]
	directorLen, castLen                *sampler[int]
	people, firstNames, lastNames       *sampler[string]
	genreSets                           *sampler[string] // sets joined by genreSep
	genreSet                            map[string][]string
	keywordLen, tagLen                  *sampler[int]
	keywords                            *sampler[string]
	years, runtimes                     *sampler[int]
	ratings, popularity                 *sampler[float64]
	votes                               *sampler[int64]
	languages                           *sampler[string]
	source                              int // movies learned from
}

const genreSep = "\x1f"

// learnCatalog reads every movie of path and learns the distributions of its fields.
func learnCatalog(path string) (*catalogModel, error) {
	titleLen, overviewLen, taglineLen := counter[int]{}, counter[int]{}, counter[int]{}
	titleWords, overviewWords, taglineWords := counter[string]{}, counter[string]{}, counter[string]{}
	directorLen, castLen, keywordLen, tagLen := counter[int]{}, counter[int]{}, counter[int]{}, counter[int]{}
	people, firstNames, lastNames := counter[string]{}, counter[string]{}, counter[string]{}
	genreSets, keywords, tags, languages := counter[string]{}, counter[string]{}, counter[string]{}, counter[string]{}
	years, runtimes := counter[int]{}, counter[int]{}
	ratings, popularity := counter[float64]{}, counter[float64]{}
	votes := counter[int64]{}
	m := &catalogModel{genreSet: map[string][]string{}}
	countWords := func(text string, words counter[string], lengths counter[int]) {
		fields := strings.Fields(text)
		lengths.add(len(fields))
		for _, w := range fields {
			words.add(w)
		}
	}
	addPerson := func(name string) {
		people.add(name)
		if parts := strings.Fields(name); len(parts) >= 2 {
			firstNames.add(parts[0])
			lastNames.add(strings.Join(parts[1:], " "))
		}
	}
	err := ingest.ReadFile(path, func(r ingest.Record) error {
		if r.Err != nil {
			return nil
		}
		mv := &r.Movie
		m.source++
		countWords(mv.Title, titleWords, titleLen)
		countWords(mv.Overview, overviewWords, overviewLen)
		countWords(mv.Tagline, taglineWords, taglineLen)
		directorLen.add(len(mv.Directors))
		castLen.add(len(mv.Cast))
		for _, p := range mv.Directors {
			addPerson(p)
		}
		for _, p := range mv.Cast {
			addPerson(p)
		}
		gs := slices.Clone(mv.Genres)
		slices.Sort(gs)
		key := strings.Join(slices.Compact(gs), genreSep)
		genreSets.add(key)
		if _, ok := m.genreSet[key]; !ok && key != "" {
			m.genreSet[key] = strings.Split(key, genreSep)
		}
		keywordLen.add(len(mv.Keywords))
		for _, k := range mv.Keywords {
			keywords.add(k)
		}
		tagLen.add(len(mv.Tags))
		for _, t := range mv.Tags {
			tags.add(t)
		}
		years.add(derefOr(mv.Year, -1))
		runtimes.add(derefOr(mv.RuntimeMinutes, -1))
		ratings.add(derefOr(mv.Rating, -1))
		popularity.add(derefOr(mv.Popularity, -1))
		votes.add(derefOr(mv.Votes, -1))
		languages.add(mv.OriginalLanguage)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if m.source == 0 {
		return nil, fmt.Errorf("%s: no movies to learn from", path)
	}
	m.titleLen, m.overviewLen, m.taglineLen = newSampler(titleLen), newSampler(overviewLen), newSampler(taglineLen)
	m.titleWords, m.overviewWords, m.taglineWords = newSampler(titleWords), newSampler(overviewWords), newSampler(taglineWords)
	m.directorLen, m.castLen = newSampler(directorLen), newSampler(castLen)
	m.people, m.firstNames, m.lastNames = newSampler(people), newSampler(firstNames), newSampler(lastNames)
	m.genreSets = newSampler(genreSets)
	m.keywordLen, m.tagLen = newSampler(keywordLen), newSampler(tagLen)
	m.keywords, m.tagWords = newSampler(keywords), newSampler(tags)
	m.years, m.runtimes = newSampler(years), newSampler(runtimes)
	m.ratings, m.popularity, m.votes = newSampler(ratings), newSampler(popularity), newSampler(votes)
	m.languages = newSampler(languages)
	return m, nil
}

func derefOr[T any](p *T, absent T) T {
	if p == nil {
		return absent
	}
	return *p
}

// generate writes count movies as JSON Lines. Movie i depends only on (seed, i), so chunks are generated in
// parallel and written in order, and the output is the same on any machine.
func (m *catalogModel) generate(w io.Writer, seed, firstID int64, count int, progress func(done int)) error {
	const chunk = 2048
	workers := runtime.GOMAXPROCS(0)
	type job struct {
		from, to int
		out      chan []byte
	}
	jobs := make(chan job, workers*2)
	order := make(chan job, workers*2)
	go func() {
		defer close(jobs)
		defer close(order)
		for from := 0; from < count; from += chunk {
			j := job{from: from, to: min(from+chunk, count), out: make(chan []byte, 1)}
			order <- j
			jobs <- j
		}
	}()
	for range workers {
		go func() {
			var mv ingest.Movie
			for j := range jobs {
				buf := make([]byte, 0, (j.to-j.from)*1024)
				for i := j.from; i < j.to; i++ {
					r := rand.New(rand.NewPCG(uint64(seed), uint64(i)))
					m.movie(r, firstID+int64(i), &mv)
					buf = appendMovie(buf, &mv)
					buf = append(buf, '\n')
				}
				j.out <- buf
			}
		}()
	}
	var werr error
	for j := range order {
		buf := <-j.out
		if werr == nil {
			_, werr = w.Write(buf)
		}
		if progress != nil {
			progress(j.to)
		}
	}
	return werr
}

// movie draws one movie into mv, reusing its slices.
func (m *catalogModel) movie(r *rand.Rand, tmdbID int64, mv *ingest.Movie) {
	var scratch [2048]byte
	words := func(n int, s *sampler[string]) string {
		b := scratch[:0]
		for i := range n {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, s.draw(r)...)
		}
		return string(b)
	}
	person := func() string {
		if r.IntN(2) == 0 || len(m.firstNames.values) == 0 {
			return m.people.draw(r)
		}
		return m.firstNames.draw(r) + " " + m.lastNames.draw(r) // new combinations grow the pool with the catalog
	}
	list := func(dst []string, n int, draw func() string) []string {
		dst = dst[:0]
		for len(dst) < n {
			v := draw()
			if !slices.Contains(dst, v) {
				dst = append(dst, v)
			} else if r.IntN(4) == 0 { // a small source list may not hold n distinct values
				n--
			}
		}
		return dst
	}
	mv.Title = words(max(1, m.titleLen.draw(r)), m.titleWords)
	mv.Overview = words(m.overviewLen.draw(r), m.overviewWords)
	mv.Tagline = words(m.taglineLen.draw(r), m.taglineWords)
	mv.Directors = list(mv.Directors, m.directorLen.draw(r), person)
	mv.Cast = list(mv.Cast, m.castLen.draw(r), person)
	mv.Genres = m.genreSet[m.genreSets.draw(r)]
	mv.Keywords = list(mv.Keywords, m.keywordLen.draw(r), func() string { return m.keywords.draw(r) })
	mv.Tags = list(mv.Tags, m.tagLen.draw(r), func() string { return m.tagWords.draw(r) })
	mv.Year = intOrNil(m.years.draw(r))
	mv.RuntimeMinutes = intOrNil(m.runtimes.draw(r))
	mv.Rating = nil
	if v := m.ratings.draw(r); v >= 0 {
		mv.Rating = &v
	}
	mv.Popularity = nil
	if v := m.popularity.draw(r); v >= 0 {
		mv.Popularity = &v
	}
	mv.Votes = nil
	if v := m.votes.draw(r); v >= 0 {
		mv.Votes = &v
	}
	mv.OriginalLanguage = m.languages.draw(r)
	mv.TMDBID = &tmdbID
}

func intOrNil(v int) *int {
	if v < 0 {
		return nil
	}
	return &v
}

// appendMovie appends mv as JSON in the field order of events.Movie, leaving out the empty fields as its
// InputJSON does (encoding/json is 4x slower and the generator must keep up with a 1M-movie benchmark).
func appendMovie(b []byte, mv *ingest.Movie) []byte {
	b = append(b, `{"title":`...)
	b = appendString(b, mv.Title)
	if mv.Year != nil {
		b = strconv.AppendInt(append(b, `,"year":`...), int64(*mv.Year), 10)
	}
	b = appendList(b, "directors", mv.Directors)
	b = appendList(b, "cast", mv.Cast)
	b = appendList(b, "genres", mv.Genres)
	if mv.Overview != "" {
		b = appendString(append(b, `,"overview":`...), mv.Overview)
	}
	if mv.Tagline != "" {
		b = appendString(append(b, `,"tagline":`...), mv.Tagline)
	}
	b = appendList(b, "keywords", mv.Keywords)
	b = appendList(b, "tags", mv.Tags)
	if mv.RuntimeMinutes != nil {
		b = strconv.AppendInt(append(b, `,"runtime_minutes":`...), int64(*mv.RuntimeMinutes), 10)
	}
	if mv.Rating != nil {
		b = strconv.AppendFloat(append(b, `,"rating":`...), *mv.Rating, 'f', -1, 64)
	}
	if mv.Votes != nil {
		b = strconv.AppendInt(append(b, `,"votes":`...), *mv.Votes, 10)
	}
	if mv.Popularity != nil {
		b = strconv.AppendFloat(append(b, `,"popularity":`...), *mv.Popularity, 'f', -1, 64)
	}
	if mv.OriginalLanguage != "" {
		b = appendString(append(b, `,"original_language":`...), mv.OriginalLanguage)
	}
	if mv.TMDBID != nil {
		b = strconv.AppendInt(append(b, `,"tmdb_id":`...), *mv.TMDBID, 10)
	}
	return append(b, '}')
}

func appendList(b []byte, name string, items []string) []byte {
	if len(items) == 0 {
		return b
	}
	b = append(append(append(b, `,"`...), name...), `":[`...)
	for i, s := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD, as with encoding/json.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
