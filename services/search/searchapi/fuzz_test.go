package searchapi

import (
	"net/url"
	"testing"

	"marquee/pkg/apperr"
)

// FuzzToQuery: any query string gives either a normalized search or an Invalid error naming the fields;
// never a panic.
func FuzzToQuery(f *testing.F) {
	for _, s := range []string{
		"", "q=godfather", "q=%22a+b%22+-c&genre=Drama&genre_mode=all", "sort=-rating,title&facets=decade,year",
		"year_min=1990&year_max=1980", "rating_min=NaN", "page=0", "per_page=101", "cursor=x&page=2",
		"q=" + "%22", "director=&cast=%ff", "sort=,", "facets=,,", "popularity_max=1e400", "runtime_min=-5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := toQuery(v, false)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) || len(apperr.FieldsOf(err)) == 0 {
				t.Fatalf("toQuery(%q) error %v is not an Invalid error with fields", raw, err)
			}
			return
		}
		if q.Page < 1 || q.PerPage < 1 || q.PerPage > 100 {
			t.Fatalf("toQuery(%q) = page %d per_page %d", raw, q.Page, q.PerPage)
		}
		if err := q.Normalize(); err != nil {
			t.Fatalf("toQuery(%q) gave a query that does not normalize again: %v", raw, err)
		}
	})
}

// FuzzToSuggestQuery: the same for autocompletion.
func FuzzToSuggestQuery(f *testing.F) {
	for _, s := range []string{"q=god", "q=&limit=3", "q=a&limit=21", "limit=x", "q=%ff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := toSuggestQuery(v)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("toSuggestQuery(%q) error %v is not Invalid", raw, err)
			}
			return
		}
		if q.Text == "" || q.Limit < 1 || q.Limit > 20 {
			t.Fatalf("toSuggestQuery(%q) = %+v", raw, q)
		}
	})
}
