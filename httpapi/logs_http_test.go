package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/yarngate/yarngate/job"
)

func TestLogRange(t *testing.T) {
	for _, tc := range []struct {
		name, query, rangeHeader string
		want                     job.LogRange
		ranged, bad              bool
	}{
		{name: "none", want: job.LogRange{}},
		{name: "offset and length", query: "offset=10&length=5", want: job.LogRange{Offset: 10, Length: 5}},
		{name: "tail", query: "offset=-4096", want: job.LogRange{Offset: -4096}},
		{name: "follow", query: "follow=true&offset=-10", want: job.LogRange{Offset: -10, Follow: true}},
		{name: "range", rangeHeader: "bytes=0-1023", want: job.LogRange{Offset: 0, Length: 1024}, ranged: true},
		{name: "open range", rangeHeader: "bytes=100-", want: job.LogRange{Offset: 100}, ranged: true},
		{name: "suffix range", rangeHeader: "bytes=-500", want: job.LogRange{Offset: -500}, ranged: true},
		{name: "bad offset", query: "offset=x", bad: true},
		{name: "negative length", query: "length=-1", bad: true},
		{name: "bad follow", query: "follow=maybe", bad: true},
		{name: "two ranges", rangeHeader: "bytes=0-1,5-6", bad: true},
		{name: "not bytes", rangeHeader: "lines=0-1", bad: true},
		{name: "backwards", rangeHeader: "bytes=9-1", bad: true},
		{name: "empty suffix", rangeHeader: "bytes=-0", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest(http.MethodGet, "/x?"+tc.query, nil)
			if tc.rangeHeader != "" {
				c.Request.Header.Set("Range", tc.rangeHeader)
			}
			got, ranged, err := logRange(c)
			if tc.bad {
				if err == nil {
					t.Fatalf("logRange = %+v, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want || ranged != tc.ranged {
				t.Errorf("logRange = %+v, %v, %v; want %+v, %v", got, ranged, err, tc.want, tc.ranged)
			}
		})
	}
}
