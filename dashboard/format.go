package dashboard

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Log levels of renderError.
const (
	slogDebug = slog.LevelDebug
	slogError = slog.LevelError
)

// formatTime renders a time in UTC to the second; "—" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// formatDuration renders a duration to the second, largest units first (1h2m3s, 45s, 0s).
func formatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return d.Round(time.Second).String()
}

// ago renders how long before now t was ("12s ago"); "—" for the zero time.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// deref is *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// stateClass is the CSS class of a state's badge (state-running, ...): letters only, whatever the state.
func stateClass(state any) string {
	s := strings.ToLower(fmt.Sprint(state))
	return "state-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r
		}
		return -1
	}, s)
}
