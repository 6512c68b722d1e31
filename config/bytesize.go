package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ByteSize is a size in bytes that reads and prints in human units.
type ByteSize int64

// Binary size units.
const (
	KiB ByteSize = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
)

// units maps lower-cased unit suffixes to their size. IEC suffixes (KiB) and single letters (K, as in JVM
// options) are binary; SI suffixes (KB) are decimal.
var units = map[string]float64{
	"": 1, "b": 1,
	"k": float64(KiB), "ki": float64(KiB), "kib": float64(KiB), "kb": 1e3,
	"m": float64(MiB), "mi": float64(MiB), "mib": float64(MiB), "mb": 1e6,
	"g": float64(GiB), "gi": float64(GiB), "gib": float64(GiB), "gb": 1e9,
	"t": float64(TiB), "ti": float64(TiB), "tib": float64(TiB), "tb": 1e12,
}

// ParseByteSize parses a size such as "2GiB", "512MiB", "1.5 GB", "64k" or "1048576". Units are
// case-insensitive; the result must be a whole, non-negative number of bytes.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(t)
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := units[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional unit such as 512MiB or 2GiB", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %w", s, err)
	}
	v := f * mult
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	if v != math.Trunc(v) {
		return 0, fmt.Errorf("invalid size %q: not a whole number of bytes", s)
	}
	return ByteSize(v), nil
}

// String prints the size in the largest binary unit that represents it exactly, such as "2GiB".
func (b ByteSize) String() string {
	for _, u := range []struct {
		size ByteSize
		name string
	}{{TiB, "TiB"}, {GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}} {
		if b != 0 && b%u.size == 0 {
			return strconv.FormatInt(int64(b/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// UnmarshalYAML accepts a plain integer (bytes) or a string with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a size must be a scalar", n.Line)
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// MarshalYAML prints the size with its unit.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }
