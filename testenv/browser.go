package testenv

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// RequireChromium returns the path of a Chromium browser for the browser tests: $YARNGATE_CHROMIUM, else
// chromium, chromium-browser or google-chrome on PATH. Without one it skips the test, or fails it under CI and
// make test (Required), naming testenv/install-chromium.sh, which make test runs when chromium is missing.
func RequireChromium(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("YARNGATE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if Required() {
		tb.Fatal("the browser tests need chromium: testenv/install-chromium.sh installs Debian's package (make test runs it)")
	}
	tb.Skip("no chromium (testenv/install-chromium.sh installs it)")
	return ""
}

// ArtifactsDir returns a new, empty directory for the artifacts of test (screenshots), outside git:
// $YARNGATE_ARTIFACTS/<test>, else testenv/.run/artifacts/<test> in this repository. The directory stays
// after the test, so that people and CI can look at what it saved; the test's log names it.
func ArtifactsDir(tb testing.TB) string {
	tb.Helper()
	root := os.Getenv("YARNGATE_ARTIFACTS")
	if root == "" {
		_, file, _, _ := runtime.Caller(0)
		root = filepath.Join(filepath.Dir(file), ".run", "artifacts")
	}
	dir := filepath.Join(root, strings.NewReplacer("/", "-", " ", "_").Replace(tb.Name()))
	if err := os.RemoveAll(dir); err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("artifacts (screenshots) in %s", dir)
	return dir
}

// CheckScreenshot decodes a PNG and checks that it is a picture worth keeping: at least minWidth × minHeight
// pixels and not of one colour (at least 16 distinct colours). It returns the image's size.
func CheckScreenshot(data []byte, minWidth, minHeight int) (image.Point, error) {
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return image.Point{}, fmt.Errorf("decode PNG: %w", err)
	}
	size := img.Bounds().Size()
	if size.X < minWidth || size.Y < minHeight {
		return size, fmt.Errorf("screenshot is %dx%d, want at least %dx%d", size.X, size.Y, minWidth, minHeight)
	}
	colours := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y && len(colours) < 16; y += 7 {
		for x := b.Min.X; x < b.Max.X && len(colours) < 16; x += 7 {
			r, g, bl, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, bl, a}] = true
		}
	}
	if len(colours) < 16 {
		return size, fmt.Errorf("screenshot has only %d colours: blank", len(colours))
	}
	return size, nil
}
