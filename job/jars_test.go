package job

import (
	"strings"
	"testing"
)

func TestSanitizeName(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "job.jar", "job.jar"},
		{"unix traversal", "../../x.jar", "x.jar"},
		{"windows path", `C:\Users\me\job.jar`, "job.jar"},
		{"control characters", "jo\x00b\n.jar\x1b", "job.jar"},
		{"bidi override", "job\u202egnp.jar", "jobgnp.jar"},
		{"hidden file", ".bashrc", "bashrc"},
		{"only dots", "..", ""},
		{"trailing separator", "dir/", ""},
		{"spaces", "  my job.jar  ", "my job.jar"},
		{"invalid UTF-8", "a\xffb.jar", "ab.jar"},
		{"long", strings.Repeat("ü", 200), strings.Repeat("ü", 127)},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SanitizeName(tc.in); got != tc.want {
				t.Errorf("SanitizeName(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
