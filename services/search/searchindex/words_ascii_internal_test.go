package searchindex

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2/analysis"

	"marquee/pkg/testenv"
)

// TestASCIIWords: on ASCII text, asciiWords finds the words the unicode tokenizer finds, with the same
// offsets, positions and types: generated strings over the characters the word-break rules treat apart,
// and some that stress them.
func TestASCIIWords(t *testing.T) {
	texts := []string{"", " ", "The Godfather: Part II", "don't stop", "e.g. 3.14 and 1,000,000; x_y __ _a a_ 9_9",
		"a:b a::b a.'b 1.,2 1..2 'quote' \"q\" a\r\nb\n\rc\vd\fe", "R2-D2 (1977) ... ??? A.I. WALL·E", "__", "_", "a'", "'a", ".5", "5."}
	r := rand.New(rand.NewPCG(7, 9))
	const alphabet = "aZ09_:,;.'\"- \r\n\v\f\t!?()/&"
	for k := range 250_000 {
		b := make([]byte, 1+r.IntN(12+k%3*20))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		texts = append(texts, string(b))
	}
	for c := range 128 { // every ASCII character, alone and between letters and digits
		s := string(rune(c))
		texts = append(texts, s, "a"+s+"b", "1"+s+"2", "a"+s+"1", "_"+s+"_")
	}
	bad := 0
	for _, text := range texts {
		got, want := asciiWords([]byte(text)), unicodeTokenizer.Tokenize([]byte(text))
		same := len(got) == len(want)
		for i := 0; same && i < len(got); i++ {
			g, w := got[i], want[i]
			same = string(g.Term) == string(w.Term) && g.Start == w.Start && g.End == w.End && g.Position == w.Position && g.Type == w.Type
		}
		if !same {
			var gs, ws []string
			for _, tok := range got {
				gs = append(gs, string(tok.Term))
			}
			for _, tok := range want {
				ws = append(ws, string(tok.Term))
			}
			t.Errorf("%q: asciiWords %q, tokenizer %q", text, gs, ws)
			if bad++; bad > 20 {
				t.FailNow()
			}
		}
	}
}

// BenchmarkASCIIWords splits the titles and overviews of the shared 15,410-movie catalog into words with
// asciiWords and with the unicode tokenizer; x-tokenizer is the first's time over the second's, measured in
// the same run.
func BenchmarkASCIIWords(b *testing.B) {
	path := testenv.SharedData(b, "movies.jsonl.gz")
	f, err := os.Open(path)
	if err != nil {
		b.Skipf("shared data: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	var texts [][]byte
	for dec := json.NewDecoder(zr); ; {
		var m struct{ Title, Overview string }
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			b.Fatal(err)
		}
		for _, s := range []string{m.Title, m.Overview} {
			if isASCII(s) {
				texts = append(texts, []byte(s))
			}
		}
	}
	timeOf := func(split func([]byte) analysis.TokenStream) time.Duration {
		start := time.Now()
		for _, t := range texts {
			split(t)
		}
		return time.Since(start)
	}
	for b.Loop() {
		ascii, tokenizer := timeOf(asciiWords), timeOf(unicodeTokenizer.Tokenize)
		b.ReportMetric(float64(ascii)/float64(tokenizer), "x-tokenizer")
	}
}
