package jarfile

import (
	"errors"
	"strings"
	"testing"
)

func TestParseMainClass(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{name: "CRLF", in: "Manifest-Version: 1.0\r\nMain-Class: a.b.C\r\n\r\n", want: "a.b.C"},
		{name: "LF", in: "Main-Class: a.b.C\n", want: "a.b.C"},
		{name: "bare CR", in: "Manifest-Version: 1.0\rMain-Class: a.b.C\r", want: "a.b.C"},
		{name: "no final newline", in: "Main-Class: a.b.C", want: "a.b.C"},
		{name: "byte order mark", in: "\xef\xbb\xbfMain-Class: a.b.C\n", want: "a.b.C"},
		{name: "continuation across three lines", in: "Main-Class: com.exa\r\n mple.Lon\r\n gName\r\n", want: "com.example.LongName"},
		{name: "continuation of another header", in: "Class-Path: a.jar\n  b.jar\nMain-Class: a.B\n", want: "a.B"},
		{name: "nested and dollar class", in: "Main-Class: a.Outer$Inner\n", want: "a.Outer$Inner"},
		{name: "unicode identifier", in: "Main-Class: été.Größe\n", want: "été.Größe"},
		{name: "surrounding spaces trimmed", in: "Main-Class:  a.B  \n", want: "a.B"},
		{name: "empty value means absent", in: "Main-Class: \n", want: ""},
		{name: "absent", in: "Manifest-Version: 1.0\n", want: ""},
		{name: "stops at the main section", in: "A: b\n\nMain-Class: a.B\n", want: ""},
		{name: "last duplicate wins", in: "Main-Class: a.B\nMain-Class: c.D\n", want: "c.D"},
		{name: "empty manifest", in: "", want: ""},
		{name: "continuation first", in: " a.B\n", wantErr: true},
		{name: "missing colon", in: "Main-Class a.B\n", wantErr: true},
		{name: "colon without space", in: "Main-Class:a.B\n", wantErr: true},
		{name: "empty header name", in: ": a.B\n", wantErr: true},
		{name: "slashes", in: "Main-Class: a/B\n", wantErr: true},
		{name: "leading digit", in: "Main-Class: a.1B\n", wantErr: true},
		{name: "trailing dot", in: "Main-Class: a.B.\n", wantErr: true},
		{name: "inner space", in: "Main-Class: a.B C\n", wantErr: true},
		{name: "invalid UTF-8", in: "Main-Class: a.\xff\n", wantErr: true},
		{name: "too long", in: "Main-Class: a" + strings.Repeat("b", maxClassNameLen) + "\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMainClass([]byte(tc.in))
			if tc.wantErr {
				if !errors.Is(err, ErrBadManifest) {
					t.Fatalf("parseMainClass() error = %v, want ErrBadManifest", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseMainClass() error = %v", err)
			}
			if got != tc.want {
				t.Errorf("parseMainClass() = %q, want %q", got, tc.want)
			}
		})
	}
}
