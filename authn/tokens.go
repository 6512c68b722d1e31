package authn

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// tokenCheckInterval is how often the tokens file's modification time is looked at.
const tokenCheckInterval = 2 * time.Second

// Token is one entry of the tokens file: the SHA-256 of a bearer token (never the token itself) and whom it
// authenticates.
type Token struct {
	// SHA256 is the hex SHA-256 of the token: printf %s "$TOKEN" | sha256sum.
	SHA256 string `yaml:"sha256"`
	// Principal is the caller's principal, mapped to a user by the auth_to_local rules (a name without a
	// realm maps to itself).
	Principal string `yaml:"principal"`
	// Groups are the caller's groups; empty: the configured group mapping of its user.
	Groups []string `yaml:"groups"`

	sum []byte
}

// tokensFile is the file's shape, YAML or JSON: {"tokens": [{"sha256", "principal", "groups"}]}.
type tokensFile struct {
	Tokens []Token `yaml:"tokens"`
}

// StaticTokens holds the tokens of a tokens file, read again when the file changes (its modification time or
// size; checked at most every 2 s on use). A file that becomes unreadable or invalid leaves the tokens read
// before in place and is logged. Tokens are compared in constant time by their SHA-256.
type StaticTokens struct {
	path   string
	logger *slog.Logger

	mu      sync.Mutex
	tokens  []Token
	mod     time.Time
	size    int64
	checked time.Time
}

// LoadStaticTokens reads the tokens file at path.
func LoadStaticTokens(path string, logger *slog.Logger) (*StaticTokens, error) {
	if logger == nil {
		return nil, errors.New("authn: no logger")
	}
	s := &StaticTokens{path: path, logger: logger}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("authn: tokens file: %w", err)
	}
	tokens, err := readTokens(path)
	if err != nil {
		return nil, err
	}
	s.tokens, s.mod, s.size, s.checked = tokens, fi.ModTime(), fi.Size(), time.Now()
	return s, nil
}

// Len returns the number of tokens.
func (s *StaticTokens) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

// lookup returns the entry of token, comparing its hash with every entry in constant time.
func (s *StaticTokens) lookup(token string) (Token, bool) {
	sum := sha256.Sum256([]byte(token))
	var found Token
	ok := 0
	for _, t := range s.current() {
		if subtle.ConstantTimeCompare(sum[:], t.sum) == 1 {
			found, ok = t, 1
		}
	}
	return found, ok == 1
}

// current returns the tokens, reloading the file when it changed.
func (s *StaticTokens) current() []Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if now.Sub(s.checked) < tokenCheckInterval {
		return s.tokens
	}
	s.checked = now
	fi, err := os.Stat(s.path)
	if err != nil {
		s.logger.Warn("tokens file unreadable; keeping the tokens read before", "path", s.path, "error", err)
		return s.tokens
	}
	if fi.ModTime().Equal(s.mod) && fi.Size() == s.size {
		return s.tokens
	}
	tokens, err := readTokens(s.path)
	if err != nil {
		s.logger.Warn("tokens file invalid; keeping the tokens read before", "path", s.path, "error", err)
		return s.tokens
	}
	s.tokens, s.mod, s.size = tokens, fi.ModTime(), fi.Size()
	s.logger.Info("tokens file reloaded", "path", s.path, "tokens", len(tokens))
	return s.tokens
}

// readTokens reads and checks a tokens file.
func readTokens(path string) ([]Token, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("authn: tokens file: %w", err)
	}
	var f tokensFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("authn: tokens file %s: %w", path, err)
	}
	seen := make(map[string]bool, len(f.Tokens))
	for i := range f.Tokens {
		t := &f.Tokens[i]
		t.SHA256 = strings.ToLower(strings.TrimSpace(t.SHA256))
		sum, err := hex.DecodeString(t.SHA256)
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("authn: tokens file %s: entry %d: sha256 is not 64 hex digits", path, i+1)
		}
		if t.Principal == "" {
			return nil, fmt.Errorf("authn: tokens file %s: entry %d: no principal", path, i+1)
		}
		if seen[t.SHA256] {
			return nil, fmt.Errorf("authn: tokens file %s: entry %d: the same token twice", path, i+1)
		}
		seen[t.SHA256] = true
		t.sum = sum
	}
	return f.Tokens, nil
}
