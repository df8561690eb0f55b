package auth

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/bidi"
	"golang.org/x/text/unicode/norm"
)

// saslPrep prepares a password the way PostgreSQL does before it derives a
// SCRAM verifier from a plaintext (pg_saslprep, RFC 4013 SASLprep), and the
// way libpq prepares it before it logs in. A verifier derived from the raw
// bytes of, say, a password with a no-break space or a decomposed accent
// would never match what a client proves, so such a password could not be
// used at all.
//
// Like PostgreSQL, it falls back to the password as is when SASLprep fails
// (invalid UTF-8, prohibited characters, bad bidirectional text, or nothing
// left after mapping). One deliberate simplification: PostgreSQL treats
// code points unassigned in Unicode 3.2 as prohibited, this uses the
// Unicode version of Go's tables, so a password that mixes a character
// assigned after 3.2 (an emoji, say) with one SASLprep changes is prepared
// here but used raw by PostgreSQL.
func saslPrep(password string) string {
	ascii := true
	for i := 0; i < len(password); i++ {
		if password[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii || !utf8.ValidString(password) {
		return password
	}
	// 1. Map: non-ASCII spaces (RFC 3454 C.1.2) to U+0020, B.1 to nothing.
	mapped := make([]rune, 0, len(password))
	for _, r := range password {
		switch {
		case inRanges(r, nonASCIISpace):
			mapped = append(mapped, ' ')
		case inRanges(r, mappedToNothing):
		default:
			mapped = append(mapped, r)
		}
	}
	if len(mapped) == 0 {
		return password
	}
	// 3. Prohibit, and 4. check bidi. PostgreSQL checks the mapped string,
	// before normalisation; so does this.
	randAL := false
	for _, r := range mapped {
		if inRanges(r, prohibitedOutput) || !assigned(r) {
			return password
		}
		randAL = randAL || isRandAL(r)
	}
	if randAL {
		for _, r := range mapped {
			if p, _ := bidi.LookupRune(r); p.Class() == bidi.L {
				return password
			}
		}
		if !isRandAL(mapped[0]) || !isRandAL(mapped[len(mapped)-1]) {
			return password
		}
	}
	// 2. Normalize (NFKC).
	return norm.NFKC.String(string(mapped))
}

func isRandAL(r rune) bool {
	p, _ := bidi.LookupRune(r)
	c := p.Class()
	return c == bidi.R || c == bidi.AL
}

func assigned(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z,
		unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

// inRanges reports whether r is in one of the inclusive [lo, hi] ranges.
func inRanges(r rune, ranges [][2]rune) bool {
	for _, rg := range ranges {
		if r >= rg[0] && r <= rg[1] {
			return true
		}
	}
	return false
}

// The tables of RFC 3454 that SASLprep uses, as PostgreSQL's saslprep.c
// holds them.
var (
	nonASCIISpace = [][2]rune{ // C.1.2
		{0x00A0, 0x00A0}, {0x1680, 0x1680}, {0x2000, 0x200B}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
	}
	mappedToNothing = [][2]rune{ // B.1
		{0x00AD, 0x00AD}, {0x034F, 0x034F}, {0x1806, 0x1806}, {0x180B, 0x180D}, {0x200B, 0x200D},
		{0x2060, 0x2060}, {0xFE00, 0xFE0F}, {0xFEFF, 0xFEFF},
	}
	prohibitedOutput = [][2]rune{ // C.1.2, C.2.1, C.2.2, C.3 to C.9
		{0x0000, 0x001F}, {0x007F, 0x00A0}, {0x0340, 0x0341}, {0x06DD, 0x06DD}, {0x070F, 0x070F},
		{0x1680, 0x1680}, {0x180E, 0x180E}, {0x2000, 0x200F}, {0x2028, 0x202F}, {0x205F, 0x2063},
		{0x206A, 0x206F}, {0x2FF0, 0x2FFB}, {0x3000, 0x3000}, {0xD800, 0xF8FF}, {0xFDD0, 0xFDEF},
		{0xFEFF, 0xFEFF}, {0xFFF9, 0xFFFF}, {0x1D173, 0x1D17A},
		{0x1FFFE, 0x1FFFF}, {0x2FFFE, 0x2FFFF}, {0x3FFFE, 0x3FFFF}, {0x4FFFE, 0x4FFFF}, {0x5FFFE, 0x5FFFF},
		{0x6FFFE, 0x6FFFF}, {0x7FFFE, 0x7FFFF}, {0x8FFFE, 0x8FFFF}, {0x9FFFE, 0x9FFFF}, {0xAFFFE, 0xAFFFF},
		{0xBFFFE, 0xBFFFF}, {0xCFFFE, 0xCFFFF}, {0xDFFFE, 0xDFFFF}, {0xE0001, 0xE0001}, {0xE0020, 0xE007F},
		{0xEFFFE, 0xEFFFF}, {0xF0000, 0x10FFFF},
	}
)
