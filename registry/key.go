package registry

import (
	"fmt"
	"strings"
)

// SplitKey checks that key is "<table>/<name>" as Store requires and returns its two parts. The error wraps
// ErrInvalidKey.
func SplitKey(key string) (table, name string, err error) {
	table, name, ok := strings.Cut(key, "/")
	if !ok || !validPart(table) || !validPart(name) {
		return "", "", fmt.Errorf("%w: %q (want <table>/<name> of [A-Za-z0-9._:-])", ErrInvalidKey, key)
	}
	return table, name, nil
}

// CheckTable checks that table is a valid table name (non-empty, [A-Za-z0-9._:-]). The error wraps
// ErrInvalidKey.
func CheckTable(table string) error {
	if !validPart(table) {
		return fmt.Errorf("%w: table %q (want [A-Za-z0-9._:-])", ErrInvalidKey, table)
	}
	return nil
}

// CheckValue checks that value is at most MaxValueSize bytes. The error wraps ErrTooLarge.
func CheckValue(value []byte) error {
	if len(value) > MaxValueSize {
		return fmt.Errorf("%w: %d bytes (at most %d)", ErrTooLarge, len(value), MaxValueSize)
	}
	return nil
}

// ReloadKey is the key that Subscribe passes to onChange when the whole table must be reloaded.
func ReloadKey(table string) string { return table + "/" }

func validPart(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}
