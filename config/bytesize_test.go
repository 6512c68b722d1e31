package config

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    ByteSize
		wantErr bool
	}{
		{in: "1048576", want: MiB},
		{in: "512MiB", want: 512 * MiB},
		{in: "2GiB", want: 2 * GiB},
		{in: "2gib", want: 2 * GiB},
		{in: "1.5 GiB", want: 3 * GiB / 2},
		{in: "64k", want: 64 * KiB},
		{in: "64Ki", want: 64 * KiB},
		{in: "1KB", want: 1000},
		{in: "2GB", want: 2_000_000_000},
		{in: "1TiB", want: TiB},
		{in: " 10 B ", want: 10},
		{in: "0", want: 0},
		{in: "", wantErr: true},
		{in: "GiB", wantErr: true},
		{in: "-1GiB", wantErr: true},
		{in: "1.2.3MiB", wantErr: true},
		{in: "1 parsec", wantErr: true},
		{in: "0.3B", wantErr: true},
		{in: "99999999TiB", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseByteSize(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseByteSize(%q) = %d, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseByteSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestByteSizeStringRoundTrip(t *testing.T) {
	tests := []struct {
		size ByteSize
		want string
	}{
		{2 * GiB, "2GiB"},
		{1536 * MiB, "1536MiB"},
		{KiB + 1, "1025B"},
		{0, "0B"},
		{3 * TiB, "3TiB"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.size.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			out, err := yaml.Marshal(struct{ S ByteSize }{tc.size})
			if err != nil {
				t.Fatal(err)
			}
			var back struct{ S ByteSize }
			if err := yaml.Unmarshal(out, &back); err != nil || back.S != tc.size {
				t.Errorf("YAML round trip: %q -> %d, %v", out, back.S, err)
			}
		})
	}
}
