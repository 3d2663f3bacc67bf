package searcheval

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"marquee/services/search"
)

// The cases suite checks what a person notices first, beside the judged relevance: a query typed as people
// type titles (words joined or split, punctuation left out, numbers as words or Roman numerals, a typo in the
// word still being typed) must find its movie near the top; did-you-mean must only offer a better query;
// suggestions must put the exact title first, with its year. Each case names the one answer it needs.

//go:embed cases.tsv
var casesFile string

// Case is one query and the answer it needs.
type Case struct {
	Class string // split-join, punctuation, numbers, typing, did-you-mean, suggest, suggest-year
	Query string
	Want  string // see cases.tsv
	Rank  int    // search classes: the movie must be within the first Rank hits
	Line  int
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	Case
	Pass bool
	Got  string // what came back, for the report
}

// CasesReport is the outcome of the suite: every case, and the passes and cases of each class.
type CasesReport struct {
	Results []CaseResult
	Classes []string       // in the file's order
	Passed  map[string]int // by class
	Total   map[string]int
}

// String is the pass rate of each class.
func (r CasesReport) String() string {
	parts := make([]string, 0, len(r.Classes))
	for _, c := range r.Classes {
		parts = append(parts, fmt.Sprintf("%s %d/%d", c, r.Passed[c], r.Total[c]))
	}
	return "cases: " + strings.Join(parts, ", ")
}

// DefaultCases are the cases of cases.tsv.
func DefaultCases() []Case {
	cases, err := ReadCases(strings.NewReader(casesFile))
	if err != nil {
		panic(err) // the embedded file is checked by the tests
	}
	return cases
}

// ReadCases reads cases in the format of cases.tsv: class, query, want and rank separated by tabs; "#"
// starts a comment.
func ReadCases(r io.Reader) ([]Case, error) {
	var out []Case
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		if strings.TrimSpace(text) == "" {
			continue
		}
		f := strings.Split(strings.TrimRight(text, " \t"), "\t")
		c := Case{Class: f[0], Line: line}
		if len(f) > 1 {
			c.Query = f[1]
		}
		if len(f) > 2 {
			c.Want = f[2]
		}
		switch c.Class {
		case "did-you-mean", "suggest", "suggest-year":
		default:
			if len(f) < 4 {
				return nil, fmt.Errorf("cases line %d: want class, query, id and rank", line)
			}
			if _, err := strconv.ParseInt(c.Want, 10, 64); err != nil {
				return nil, fmt.Errorf("cases line %d: %q is not a movie id", line, c.Want)
			}
			n, err := strconv.Atoi(f[3])
			if err != nil || n < 1 {
				return nil, fmt.Errorf("cases line %d: rank %q", line, f[3])
			}
			c.Rank = n
		}
		if c.Query == "" {
			return nil, fmt.Errorf("cases line %d: no query", line)
		}
		out = append(out, c)
	}
	return out, sc.Err()
}

// RunCases runs every case against s.
func RunCases(ctx context.Context, s search.Searcher, cases []Case) (CasesReport, error) {
	rep := CasesReport{Passed: map[string]int{}, Total: map[string]int{}}
	for _, c := range cases {
		r := CaseResult{Case: c}
		switch c.Class {
		case "suggest", "suggest-year":
			ss, err := s.Suggest(ctx, search.SuggestQuery{Text: c.Query})
			if err != nil {
				return rep, fmt.Errorf("case line %d: %w", c.Line, err)
			}
			r.Got = "none"
			if len(ss) > 0 {
				first := ss[0]
				r.Got = first.Kind + ":" + first.Text
				if c.Class == "suggest-year" {
					r.Got = "no year"
					if first.Year != nil {
						r.Got = strconv.Itoa(*first.Year)
					}
				}
			}
			r.Pass = r.Got == c.Want
		case "did-you-mean":
			res, err := s.Search(ctx, search.Query{Text: c.Query, PerPage: 10})
			if err != nil {
				return rep, fmt.Errorf("case line %d: %w", c.Line, err)
			}
			r.Got = res.DidYouMean
			r.Pass = slices.Contains(strings.Split(c.Want, "|"), res.DidYouMean)
		default:
			res, err := s.Search(ctx, search.Query{Text: c.Query, PerPage: c.Rank})
			if err != nil {
				return rep, fmt.Errorf("case line %d: %w", c.Line, err)
			}
			want, _ := strconv.ParseInt(c.Want, 10, 64)
			var got []string
			for _, h := range res.Hits {
				got = append(got, h.Title)
				if h.ID == want {
					r.Pass = true
				}
			}
			r.Got = strings.Join(got, " | ")
		}
		if rep.Total[c.Class] == 0 {
			rep.Classes = append(rep.Classes, c.Class)
		}
		rep.Total[c.Class]++
		if r.Pass {
			rep.Passed[c.Class]++
		}
		rep.Results = append(rep.Results, r)
	}
	return rep, nil
}
