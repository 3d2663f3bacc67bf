package ingest

import (
	"strings"
)

// parseNative reads the API's write body. A movie as the API returns it (with id, version, timestamps)
// is accepted too, so an export can be imported again; those server-owned fields are ignored.
func parseNative(raw []byte, m *Movie) error {
	var rec Movie
	if err := strict(raw, &rec); err != nil {
		return err
	}
	*m = rec.Input()
	return nil
}

// parseSeed reads a record of the imdb.json seed. Its quirks: genres after the first carry a leading space,
// the popularity key starts with a digit, and there is one director as a string.
func parseSeed(raw []byte, m *Movie) error {
	var rec struct {
		Popularity *float64 `json:"99popularity"`
		Director   string   `json:"director"`
		Genre      []string `json:"genre"`
		IMDbScore  *float64 `json:"imdb_score"`
		Name       string   `json:"name"`
	}
	if err := strict(raw, &rec); err != nil {
		return err
	}
	*m = Movie{
		Title:      strings.TrimSpace(rec.Name),
		Directors:  nonEmpty(rec.Director),
		Genres:     trimAll(rec.Genre),
		Rating:     rec.IMDbScore,
		Popularity: rec.Popularity,
	}
	return nil
}

// parseTMDB reads a record of the TMDB-like catalog. vote_average is the rating and vote_count the votes;
// an average over no votes means unrated. Fields Marquee does not keep (budget, characters, …) are read and
// dropped, since this format is a source, not Marquee's own.
func parseTMDB(raw []byte, m *Movie) error {
	var rec struct {
		ID               *int64   `json:"id"`
		Title            string   `json:"title"`
		Overview         *string  `json:"overview"`
		Tagline          *string  `json:"tagline"`
		Genres           []string `json:"genres"`
		Keywords         []string `json:"keywords"`
		Tags             []string `json:"tags"`
		Year             *int     `json:"year"`
		Runtime          *int     `json:"runtime"`
		OriginalLanguage *string  `json:"original_language"`
		Director         *string  `json:"director"`
		Cast             []string `json:"cast"`
		Popularity       *float64 `json:"popularity"`
		VoteAverage      *float64 `json:"vote_average"`
		VoteCount        *int64   `json:"vote_count"`
		IMDbID           *string  `json:"imdb_id"`
		PosterURL        *string  `json:"poster_url"`
	}
	if err := decodeLoose(raw, &rec); err != nil {
		return err
	}
	rating := rec.VoteAverage
	if rec.VoteCount != nil && *rec.VoteCount == 0 {
		rating = nil
	}
	runtime := rec.Runtime
	if runtime != nil && *runtime <= 0 {
		runtime = nil
	}
	*m = Movie{
		Title:            strings.TrimSpace(rec.Title),
		Year:             rec.Year,
		Directors:        nonEmpty(deref(rec.Director)),
		Cast:             trimAll(rec.Cast),
		Genres:           trimAll(rec.Genres),
		Overview:         strings.TrimSpace(deref(rec.Overview)),
		Tagline:          strings.TrimSpace(deref(rec.Tagline)),
		Keywords:         trimAll(rec.Keywords),
		Tags:             trimAll(rec.Tags),
		RuntimeMinutes:   runtime,
		Rating:           rating,
		Votes:            rec.VoteCount,
		Popularity:       rec.Popularity,
		OriginalLanguage: deref(rec.OriginalLanguage),
		PosterURL:        deref(rec.PosterURL),
		TMDBID:           rec.ID,
		IMDbID:           rec.IMDbID,
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func nonEmpty(s string) []string {
	if s = strings.TrimSpace(s); s == "" {
		return nil
	}
	return []string{s}
}

func trimAll(items []string) []string {
	var out []string
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}
