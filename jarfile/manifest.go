package jarfile

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxClassNameLen bounds the Main-Class value; the JVM's own limit on a class name is 65535 bytes, but
// nothing real comes near this.
const maxClassNameLen = 1024

// parseMainClass returns the Main-Class attribute of the manifest's main section (the headers before the
// first empty line), following the JAR File Specification: lines end in CRLF, LF or CR, a line starting with a
// single space continues the previous header, header names are case-insensitive and separated from values by
// ": ". It returns "" when the attribute is absent or empty.
func parseMainClass(raw []byte) (string, error) {
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	var (
		name, value strings.Builder
		inHeader    bool
		mainClass   string
	)
	flush := func() {
		if inHeader && strings.EqualFold(name.String(), "Main-Class") {
			mainClass = value.String()
		}
		name.Reset()
		value.Reset()
		inHeader = false
	}
	for lineNo, line := range splitLines(raw) {
		if len(line) == 0 {
			break // end of the main section
		}
		if line[0] == ' ' {
			if !inHeader {
				return "", fmt.Errorf("%w: line %d: continuation without a header", ErrBadManifest, lineNo+1)
			}
			value.Write(line[1:])
			continue
		}
		flush()
		k, v, ok := bytes.Cut(line, []byte(": "))
		if !ok || len(k) == 0 {
			return "", fmt.Errorf("%w: line %d: not a \"Name: value\" header", ErrBadManifest, lineNo+1)
		}
		name.Write(k)
		value.Write(v)
		inHeader = true
	}
	flush()
	mainClass = strings.TrimSpace(mainClass)
	if mainClass == "" {
		return "", nil
	}
	if err := checkClassName(mainClass); err != nil {
		return "", fmt.Errorf("%w: Main-Class: %w", ErrBadManifest, err)
	}
	return mainClass, nil
}

// splitLines splits b at CRLF, LF or CR. A final line terminator does not produce an empty last line.
func splitLines(b []byte) [][]byte {
	var lines [][]byte
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			lines = append(lines, b)
			break
		}
		lines = append(lines, b[:i])
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			i++
		}
		b = b[i+1:]
	}
	return lines
}

// checkClassName accepts a Java binary class name: dot-separated, non-empty identifiers made of letters,
// digits, '_' and '$', not starting with a digit.
func checkClassName(s string) error {
	if len(s) > maxClassNameLen {
		return fmt.Errorf("longer than %d bytes", maxClassNameLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("not valid UTF-8")
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return fmt.Errorf("%q has an empty name segment", s)
		}
		for i, r := range part {
			ok := r == '_' || r == '$' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))
			if !ok {
				return fmt.Errorf("%q is not a Java class name", s)
			}
		}
	}
	return nil
}
