package catalog

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math/big"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"

	"marquee/pkg/apperr"
)

// API keys look like GitHub's tokens: a type prefix, 30 random base62 characters (178 bits) and a 6-character
// base62 CRC32 of the rest, so that a typo is caught without a database look-up and secret scanners can
// recognise them.
const (
	APIKeyPrefix     = "mq_"
	apiKeyRandomLen  = 30
	apiKeyCheckLen   = 6
	apiKeyLen        = len(APIKeyPrefix) + apiKeyRandomLen + apiKeyCheckLen
	base62           = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	MaxAPIKeyNameLen = 100
)

// NewAPIKey returns a new random API key.
func NewAPIKey() (string, error) {
	var b strings.Builder
	b.WriteString(APIKeyPrefix)
	max := big.NewInt(int64(len(base62)))
	for range apiKeyRandomLen {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("generate api key: %w", err)
		}
		b.WriteByte(base62[n.Int64()])
	}
	b.WriteString(apiKeyChecksum(b.String()))
	return b.String(), nil
}

func apiKeyChecksum(body string) string {
	n := crc32.ChecksumIEEE([]byte(body))
	var out [apiKeyCheckLen]byte
	for i := apiKeyCheckLen - 1; i >= 0; i-- {
		out[i] = base62[n%62]
		n /= 62
	}
	return string(out[:])
}

// IsAPIKey reports whether s is shaped like an API key (prefix, length, alphabet, checksum). It says
// nothing about whether the key exists.
func IsAPIKey(s string) bool {
	if len(s) != apiKeyLen || !strings.HasPrefix(s, APIKeyPrefix) {
		return false
	}
	for i := len(APIKeyPrefix); i < len(s); i++ {
		if strings.IndexByte(base62, s[i]) < 0 {
			return false
		}
	}
	cut := len(s) - apiKeyCheckLen
	return apiKeyChecksum(s[:cut]) == s[cut:]
}

// HashAPIKey is what the store keeps of a key: its SHA-256. The key's entropy makes a slow hash useless.
func HashAPIKey(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return sum[:]
}

// HashRefreshToken is what the store keeps of a browser session's refresh token: its SHA-256, as for API
// keys (256 random bits make a slow hash useless).
func HashRefreshToken(tok string) []byte { return HashAPIKey(tok) }

// NewSigningKey generates a signing key named after its creation day and public key.
func NewSigningKey(now time.Time) (SigningKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return SigningKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	sum := sha256.Sum256(pub)
	return SigningKey{Kid: now.UTC().Format("20060102") + "-" + hex.EncodeToString(sum[:6]), Private: priv, CreatedAt: now}, nil
}

// Limits on accounts.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024 // bytes; hashing is bounded anyway, but nobody needs more
)

var usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidUsername reports whether name is a valid (lower-case) username.
func ValidUsername(name string) bool { return usernameRE.MatchString(name) }

// ValidRole reports whether role is RoleAdmin or RoleUser.
func ValidRole(role string) bool { return role == RoleAdmin || role == RoleUser }

// RoleRank orders roles: a principal may grant only roles up to its own.
func RoleRank(role string) int {
	switch role {
	case RoleAdmin:
		return 2
	case RoleUser:
		return 1
	default:
		return 0
	}
}

// ValidateNewUser normalises a new account's username (trimmed, lower-cased) and checks the three fields.
// It returns an Invalid error naming every bad field.
func ValidateNewUser(username *string, password, role string) error {
	bad := map[string]string{}
	*username = strings.ToLower(strings.TrimSpace(*username))
	if !ValidUsername(*username) {
		bad["username"] = "must be 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
	}
	if msg := PasswordProblem(password, *username); msg != "" {
		bad["password"] = msg
	}
	if !ValidRole(role) {
		bad["role"] = `must be "admin" or "user"`
	}
	if len(bad) > 0 {
		return apperr.InvalidFields("The user is not valid.", bad)
	}
	return nil
}

// minPasswordScore is the zxcvbn score a password needs: 3 means about 10^10 guesses or more, which
// leaves out every password of zxcvbn's lists of the most common (breached) passwords, words and names,
// and keyboard walks, repeats and sequences built from them.
const minPasswordScore = 3

// passwordScoreRunes is how much of a password is scored; zxcvbn's matching grows fast with length, and
// a password that is strong in its first 100 characters stays strong.
const passwordScoreRunes = 100

// PasswordProblem says what is wrong with a new password, or "". The policy follows NIST SP 800-63B and
// OWASP's authentication guidance: at least MinPasswordLen characters and at most MaxPasswordLen bytes,
// any characters (no composition rules, spaces allowed, nothing trimmed), but not one that is common,
// breached or derived from the username, as judged by zxcvbn's dictionaries and patterns.
func PasswordProblem(password, username string) string {
	switch {
	case !utf8.ValidString(password):
		return "must be valid UTF-8"
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return fmt.Sprintf("must have at least %d characters", MinPasswordLen)
	case len(password) > MaxPasswordLen:
		return fmt.Sprintf("must have at most %d bytes", MaxPasswordLen)
	case strings.TrimSpace(password) == "":
		return "must not be only spaces"
	}
	scored := password
	if utf8.RuneCountInString(scored) > passwordScoreRunes {
		scored = string([]rune(scored)[:passwordScoreRunes])
	}
	if zxcvbn.PasswordStrength(scored, []string{username, "marquee"}).Score < minPasswordScore {
		return "is too easy to guess (a common or breached password, a repeat, a sequence or the username); try a few unrelated words"
	}
	return ""
}

// ValidateAPIKeyName normalises (trims) and checks a key's name.
func ValidateAPIKeyName(name *string) string {
	*name = strings.TrimSpace(*name)
	switch n := utf8.RuneCountInString(*name); {
	case !utf8.ValidString(*name):
		return "must be valid UTF-8"
	case n == 0:
		return "is required"
	case n > MaxAPIKeyNameLen:
		return fmt.Sprintf("must be at most %d characters", MaxAPIKeyNameLen)
	}
	return ""
}
