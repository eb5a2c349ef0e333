package schedule

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseStages(t *testing.T) {
	tests := []struct {
		spec    string
		want    Profile
		wantErr string
	}{
		{spec: "30s:0->50,1m:50,10s:50->200", want: Profile{{30 * time.Second, 0, 50}, {time.Minute, 50, 50}, {10 * time.Second, 50, 200}}},
		{spec: " 1s : 2.5 ", want: Profile{{time.Second, 2.5, 2.5}}},
		{spec: "10s:100->0", want: Profile{{10 * time.Second, 100, 0}}},
		{spec: "", wantErr: "no stages"},
		{spec: "30s", wantErr: "want DURATION:VALUE"},
		{spec: "30:5", wantErr: "duration"},
		{spec: "0s:5", wantErr: "must be positive"},
		{spec: "10s:abc", wantErr: `"abc" is not a number`},
		{spec: "10s:5->", wantErr: `"" is not a number`},
		{spec: "10s:-5", wantErr: "negative"},
		{spec: "10s:NaN", wantErr: "not a number"},
		{spec: "10s:0,5s:0", wantErr: "nothing would run"},
		{spec: "10s:5,,5s:1", wantErr: "stage 2"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ParseStages(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("stage %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// expected is the number of arrivals the whole profile asks for: the area under the
// rate, stage by stage.
func expected(p Profile) float64 {
	var n float64
	for _, s := range p {
		n += (s.From + s.To) / 2 * s.Duration.Seconds()
	}
	return n
}

func TestProfile_Arrivals_FollowTheStages(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want int // arrivals in total
		// per window [from, to): expected count
		windows []struct {
			from, to time.Duration
			want     int
		}
	}{
		{name: "constant", spec: "2s:10", want: 20, windows: []struct {
			from, to time.Duration
			want     int
		}{{0, time.Second, 10}, {time.Second, 2 * time.Second, 10}}},
		{name: "ramp up", spec: "10s:0->100", want: 500, windows: []struct {
			from, to time.Duration
			want     int
		}{{0, 5 * time.Second, 125}, {5 * time.Second, 10 * time.Second, 375}}},
		{name: "ramp hold spike", spec: "2s:0->10,2s:10,1s:10->50,1s:50->10", want: 10 + 20 + 30 + 30, windows: []struct {
			from, to time.Duration
			want     int
		}{{2 * time.Second, 4 * time.Second, 20}, {4 * time.Second, 6 * time.Second, 60}}},
		{name: "ramp down to zero", spec: "4s:100->0", want: 200},
		{name: "pause in the middle", spec: "1s:10,1s:0,1s:10", want: 20, windows: []struct {
			from, to time.Duration
			want     int
		}{{time.Second, 2 * time.Second, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseStages(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			got := slices.Collect(p.Arrivals(nil))
			if len(got) != tt.want || math.Abs(expected(p)-float64(tt.want)) > 0.5 {
				t.Fatalf("%d arrivals (expected() %g), want %d", len(got), expected(p), tt.want)
			}
			for i := 1; i < len(got); i++ {
				if got[i] < got[i-1] {
					t.Fatalf("arrival %d at %s before arrival %d at %s", i, got[i], i-1, got[i-1])
				}
			}
			if last := got[len(got)-1]; last > p.Duration() {
				t.Errorf("last arrival at %s, after the end %s", last, p.Duration())
			}
			for _, w := range tt.windows {
				n := 0
				for _, a := range got {
					if a >= w.from && a < w.to {
						n++
					}
				}
				if n != w.want {
					t.Errorf("%d arrivals in [%s, %s), want %d", n, w.from, w.to, w.want)
				}
			}
		})
	}
}

func TestProfile_At(t *testing.T) {
	p, _ := ParseStages("10s:0->100,10s:100")
	for _, c := range []struct {
		at   time.Duration
		want float64
	}{{0, 0}, {5 * time.Second, 50}, {10 * time.Second, 100}, {15 * time.Second, 100}, {20 * time.Second, 0}} {
		if got := p.At(c.at); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("at(%s) = %g, want %g", c.at, got, c.want)
		}
	}
}
