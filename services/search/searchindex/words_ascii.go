package searchindex

import "github.com/blevesearch/bleve/v2/analysis"

// The unicode tokenizer (Unicode's word boundaries, UAX #29, by a general state machine) was a tenth of a
// search's CPU through the gateway: every hit's title, overview and tagline are split into words for its
// match kind and highlights. On ASCII text the rules come down to a few character classes; asciiWords
// applies them directly. TestASCIIWords holds it to the tokenizer on generated text.

// asciiClass is a character's word-break property, for ASCII.
type asciiClass uint8

const (
	asciiOther     asciiClass = iota
	asciiLetter               // ALetter
	asciiDigit                // Numeric
	asciiUnderline            // ExtendNumLet: joins letters and digits
	asciiMidLetter            // ':' between letters
	asciiMidNum               // ',' and ';' between digits
	asciiMidNumLet            // '.' and '\'' between letters or between digits
	asciiCR
	asciiLF
	asciiNewline // vertical tab, form feed
)

var asciiClasses = func() (cs [128]asciiClass) {
	for c := 'a'; c <= 'z'; c++ {
		cs[c], cs[c-'a'+'A'] = asciiLetter, asciiLetter
	}
	for c := '0'; c <= '9'; c++ {
		cs[c] = asciiDigit
	}
	cs['_'], cs[':'], cs[','], cs[';'], cs['.'], cs['\''] = asciiUnderline, asciiMidLetter, asciiMidNum, asciiMidNum, asciiMidNumLet, asciiMidNumLet
	cs['\r'], cs['\n'], cs['\v'], cs['\f'] = asciiCR, asciiLF, asciiNewline, asciiNewline
	return cs
}()

// asciiWords is what the unicode tokenizer makes of ASCII text: its words (letters, digits and what joins
// them) with their byte offsets and positions; the spaces and punctuation between them are left out.
func asciiWords(text []byte) analysis.TokenStream {
	guess := len(text)/6 + 1 // words of English text are about five letters and a space
	out := make(analysis.TokenStream, 0, guess)
	toks := make([]analysis.Token, 0, guess) // more are allocated a few at a time, as the tokenizer does
	eachASCIIWord(text, func(start, end int, numeric bool) bool {
		if len(toks) == cap(toks) {
			toks = make([]analysis.Token, 0, 16)
		}
		typ := analysis.AlphaNumeric
		if numeric {
			typ = analysis.Numeric
		}
		toks = append(toks, analysis.Token{Term: text[start:end], Start: start, End: end, Type: typ, Position: len(out) + 1})
		out = append(out, &toks[len(toks)-1])
		return true
	})
	return out
}

// eachASCIIWord calls yield with the byte offsets of each word the unicode tokenizer finds in ASCII text,
// and whether it is a number, until yield returns false. It allocates nothing.
func eachASCIIWord[T string | []byte](text T, yield func(start, end int, numeric bool) bool) {
	class := func(i int) asciiClass {
		if i < 0 || i >= len(text) {
			return asciiOther
		}
		return asciiClasses[text[i]&0x7f]
	}
	start := 0
	for i := 1; i <= len(text); i++ {
		if i < len(text) {
			b, c := class(i-1), class(i)
			if (b == asciiLetter || b == asciiDigit) && (c == asciiLetter || c == asciiDigit) {
				continue // inside a word: the common case, WB5 and WB8-10
			}
			if !wordBreak(class(i-2), b, c, class(i+1)) {
				continue
			}
		}
		if word, numeric := asciiWordKind(text[start:i]); word && !yield(start, i, numeric) {
			return
		}
		start = i
	}
}

// wordBreak says whether a word boundary lies between characters of classes b and c, with a before b and
// d after c: rules WB3 to WB14 of UAX #29, for the classes ASCII has.
func wordBreak(a, b, c, d asciiClass) bool {
	alnum := func(x asciiClass) bool { return x == asciiLetter || x == asciiDigit }
	switch {
	case b == asciiCR && c == asciiLF: // WB3
		return false
	case b == asciiCR || b == asciiLF || b == asciiNewline || c == asciiCR || c == asciiLF || c == asciiNewline: // WB3a, WB3b
		return true
	case alnum(b) && alnum(c): // WB5, WB8, WB9, WB10
		return false
	case b == asciiLetter && (c == asciiMidLetter || c == asciiMidNumLet) && d == asciiLetter: // WB6
		return false
	case a == asciiLetter && (b == asciiMidLetter || b == asciiMidNumLet) && c == asciiLetter: // WB7
		return false
	case a == asciiDigit && (b == asciiMidNum || b == asciiMidNumLet) && c == asciiDigit: // WB11
		return false
	case b == asciiDigit && (c == asciiMidNum || c == asciiMidNumLet) && d == asciiDigit: // WB12
		return false
	case (alnum(b) || b == asciiUnderline) && c == asciiUnderline: // WB13a
		return false
	case b == asciiUnderline && alnum(c): // WB13b
		return false
	}
	return true // WB14
}

// asciiWordKind says whether the tokenizer keeps a segment between word breaks as a word (it has a
// letter, a digit or an underline), and whether that word is a number (digits, no letter).
func asciiWordKind[T string | []byte](seg T) (word, numeric bool) {
	letters, digits, underlines := false, false, false
	for i := range len(seg) {
		switch asciiClasses[seg[i]&0x7f] {
		case asciiLetter:
			letters = true
		case asciiDigit:
			digits = true
		case asciiUnderline:
			underlines = true
		}
	}
	return letters || digits || underlines, !letters && digits
}
