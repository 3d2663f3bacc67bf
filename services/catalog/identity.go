package catalog

import (
	"reflect"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"marquee/pkg/events"
)

// One film is one record. A write without an external id that describes a movie the catalog already holds
// (the seed's "The Godfather" and the TMDB-like catalog's, or the same file imported twice) is recognised by
// the rule of SameFilm and merged into it (Merge) instead of stored a second time.

// MaxTitleKeyLen bounds a title key: a title of MaxTitleLen characters can decompose into more.
const MaxTitleKeyLen = 2 * events.MaxTitleLen

// TitleKey is the form in which two spellings of one title are equal: letters and digits only, lower case,
// accents of Latin letters removed, apostrophes dropped ("It's" and "Its" are one word), "&" read as "and", and every other
// run of punctuation or space one space. "Sunrise: A Song of Two Humans" and "sunrise - a song of two
// humans" have one key; so do "Amélie" and "Amelie".
func TitleKey(title string) string {
	var b strings.Builder
	space, latin := false, false
	for _, r := range norm.NFKD.String(title) {
		switch {
		case unicode.Is(unicode.Mn, r) && latin, r == '\'', r == '’', r == 'ʼ', r == '`':
			continue // an accent on a Latin letter; other scripts' marks are letters of their own
		case r == '&':
			b.WriteString(" and")
			space = true
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			latin = unicode.Is(unicode.Latin, r) || (latin && unicode.Is(unicode.Mn, r))
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(unicode.ToLower(r))
		default:
			space = true
		}
	}
	key := strings.TrimPrefix(b.String(), " ")
	if len(key) > MaxTitleKeyLen {
		key = strings.ToValidUTF8(key[:MaxTitleKeyLen], "")
	}
	return key
}

// SameFilm reports whether a record describes the stored movie m, which has the same TitleKey: nothing
// tells them apart (no external id, year or director differs) and something ties them (the same year, or a
// director in common). A record without a year is tied by its director, as the seed's records are; two
// movies of one title and year with directors in common but different ids are different films.
func SameFilm(m *Movie, in *MovieInput) bool {
	if m.TMDBID != nil && in.TMDBID != nil && *m.TMDBID != *in.TMDBID {
		return false
	}
	if m.IMDbID != nil && in.IMDbID != nil && *m.IMDbID != *in.IMDbID {
		return false
	}
	sameYear := m.Year != nil && in.Year != nil
	if sameYear && *m.Year != *in.Year {
		return false
	}
	sharedDirector := false
	if len(m.Directors) > 0 && len(in.Directors) > 0 {
		for _, d := range in.Directors {
			key := TitleKey(d)
			if slices.ContainsFunc(m.Directors, func(md string) bool { return TitleKey(md) == key }) {
				sharedDirector = true
				break
			}
		}
		if !sharedDirector {
			return false
		}
	}
	return sameYear || sharedDirector
}

// Merge returns what the catalog knows of a movie once a record of it is imported: an import adds to what
// is stored and never clears a field (a PUT does). The side with more votes wins, the record on a tie: votes
// say which source measured the film more. Its rating, votes and popularity are taken together (a rating
// means something only beside the votes it came with), unless it has no rating and no votes, when the
// other side's are. Every other field is the winner's where it has one, else the other side's; genres,
// keywords and tags are united, the winner's first. Both must be valid; so is the result. Merging
// the same record again changes nothing.
func Merge(stored, in MovieInput) MovieInput {
	win, lose := in, stored
	if votesOf(stored.Votes) > votesOf(in.Votes) {
		win, lose = stored, in
	}
	out := win
	for _, f := range events.Fields {
		switch f.Name {
		case "rating", "votes": // below, with popularity
		case "genres", "keywords", "tags":
			items := f.Ptr(&out).(*[]string)
			*items = unite(*items, *f.Ptr(&lose).(*[]string), united[f.Name])
		default:
			fill(f.Ptr(&out), f.Ptr(&lose))
		}
	}
	if win.Rating == nil && votesOf(win.Votes) == 0 {
		out.Rating, out.Votes, out.Popularity = lose.Rating, lose.Votes, fillPtr(lose.Popularity, win.Popularity)
	}
	return out
}

// united are the lists that Merge unites, and how many items each may hold.
var united = map[string]int{"genres": events.MaxListItems, "keywords": events.MaxTagItems, "tags": events.MaxTagItems}

// fill sets the field that dst points to to other's (a pointer to a field of the same type) when it is
// empty: "", null or no items.
func fill(dst, other any) {
	d := reflect.ValueOf(dst).Elem()
	if d.IsZero() || (d.Kind() == reflect.Slice && d.Len() == 0) {
		d.Set(reflect.ValueOf(other).Elem())
	}
}

func votesOf(v *int64) int64 {
	if v == nil {
		return 0
	}
	return *v
}

func fillPtr[T any](v, other *T) *T {
	if v == nil {
		return other
	}
	return v
}

// unite returns a's items, then b's that a lacks, at most max. A nil result of two empty lists is [].
func unite(a, b []string, max int) []string {
	out := make([]string, 0, len(a)+len(b))
	out = append(out, a...)
	for _, it := range b {
		if len(out) == max {
			break
		}
		if !slices.Contains(out, it) {
			out = append(out, it)
		}
	}
	return out
}
