package window_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/shared/core/window"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func TestAssign(t *testing.T) {
	for _, c := range []struct {
		name string
		spec window.Spec
		t    time.Time
		want string
	}{
		{"tumbling start", window.Spec{Kind: window.Tumbling, Size: time.Minute}, at(0), "[0 60]"},
		{"tumbling inside", window.Spec{Kind: window.Tumbling, Size: time.Minute}, at(59), "[0 60]"},
		{"tumbling next", window.Spec{Kind: window.Tumbling, Size: time.Minute}, at(60), "[60 120]"},
		{"tumbling before epoch", window.Spec{Kind: window.Tumbling, Size: time.Minute}, time.Unix(-1, 0), "abs[-60 0]"},
		{"sliding 3 windows", window.Spec{Kind: window.Sliding, Size: 3 * time.Minute, Hop: time.Minute}, at(125), "[0 180] [60 240] [120 300]"},
		{"sliding on a hop edge", window.Spec{Kind: window.Sliding, Size: 2 * time.Minute, Hop: time.Minute}, at(60), "[0 120] [60 180]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var parts []string
			base := t0.UnixMilli()
			abs := strings.HasPrefix(c.want, "abs")
			for _, b := range c.spec.Assign(c.t) {
				if abs {
					parts = append(parts, fmt.Sprintf("[%d %d]", b.Start/1000, b.End/1000))
				} else {
					parts = append(parts, fmt.Sprintf("[%d %d]", (b.Start-base)/1000, (b.End-base)/1000))
				}
			}
			if got := strings.Join(parts, " "); got != strings.TrimPrefix(c.want, "abs") {
				t.Fatalf("Assign = %s, want %s", got, c.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	for _, s := range []window.Spec{
		{Kind: window.Tumbling}, {Kind: window.Sliding, Size: time.Minute, Hop: 7 * time.Second}, {Kind: window.Sliding, Size: time.Minute, Hop: 2 * time.Minute},
		{Kind: window.Count}, {Kind: "hopping", Size: time.Minute}, {Kind: window.Tumbling, Size: time.Minute, Lateness: -1},
	} {
		if s.Check() == nil {
			t.Errorf("%+v accepted", s)
		}
	}
}

func show(cells []window.Cell) string {
	base := t0.UnixMilli()
	var parts []string
	for _, c := range cells {
		a := c.Fields["amount"]
		parts = append(parts, fmt.Sprintf("%d-%d/%s n=%d sum=%g min=%g max=%g avg=%g",
			(c.Window.Start-base)/1000, (c.Window.End-base)/1000, c.Key, c.Count, a.Sum, a.Min, a.Max, a.Avg()))
	}
	return strings.Join(parts, "; ")
}

// TestTumblingEventTimeWithLateness drives event time through a table:
// each step adds records and closes what the watermark allows.
func TestTumblingEventTimeWithLateness(t *testing.T) {
	w, err := window.New(window.Spec{Kind: window.Tumbling, Size: time.Minute, Lateness: 10 * time.Second, Fields: []string{"amount"}})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		recs   []window.Record
		late   int
		closed string
	}{
		{[]window.Record{{Time: at(5), Key: "a", Values: map[string]float64{"amount": 2}}, {Time: at(30), Key: "a", Values: map[string]float64{"amount": 4}},
			{Time: at(59), Key: "b", Values: map[string]float64{"amount": 1}}}, 0, ""},
		// 65 s: the watermark is 55 s, window 0-60 stays open; a record at
		// 50 s still counts.
		{[]window.Record{{Time: at(65), Key: "a", Values: map[string]float64{"amount": 10}}, {Time: at(50), Key: "a", Values: map[string]float64{"amount": 6}}}, 0, ""},
		// 75 s: the watermark passes 60 s, window 0-60 closes.
		{[]window.Record{{Time: at(75), Key: "a"}}, 0, "0-60/a n=3 sum=12 min=2 max=6 avg=4; 0-60/b n=1 sum=1 min=1 max=1 avg=1"},
		// A record at 40 s is now late.
		{[]window.Record{{Time: at(40), Key: "a", Values: map[string]float64{"amount": 99}}}, 1, ""},
		{[]window.Record{{Time: at(200), Key: "a"}}, 0, "60-120/a n=2 sum=10 min=10 max=10 avg=10"},
	}
	for i, s := range steps {
		late := 0
		for _, r := range s.recs {
			if w.Add(r) {
				late++
			}
		}
		// Wall-clock time does not close event-time windows.
		if got := show(w.Close(at(10_000))); late != s.late || got != s.closed {
			t.Fatalf("step %d: late %d, closed %q; want %d, %q", i, late, got, s.late, s.closed)
		}
	}
	if w.State.LateCount != 1 {
		t.Fatalf("late count %d", w.State.LateCount)
	}
}

func TestSlidingAndArrivalTime(t *testing.T) {
	w, _ := window.New(window.Spec{Kind: window.Sliding, Size: 2 * time.Minute, Hop: time.Minute, ByArrival: true, Fields: []string{"amount"}})
	w.Add(window.Record{Time: at(70), Key: "k", Values: map[string]float64{"amount": 3}})
	if got := show(w.Close(at(100))); got != "" {
		t.Fatalf("closed early: %s", got)
	}
	// No more records: wall-clock time closes both windows in turn.
	if got := show(w.Close(at(120))); got != "0-120/k n=1 sum=3 min=3 max=3 avg=3" {
		t.Fatalf("at 120: %s", got)
	}
	if got := show(w.Close(at(180))); got != "60-180/k n=1 sum=3 min=3 max=3 avg=3" {
		t.Fatalf("at 180: %s", got)
	}
}

func TestCountWindowsPerKey(t *testing.T) {
	w, _ := window.New(window.Spec{Kind: window.Count, Every: 2, Fields: []string{"amount"}})
	for i, k := range []string{"a", "b", "a", "a", "b"} {
		w.Add(window.Record{Key: k, Values: map[string]float64{"amount": float64(i)}})
	}
	cells := w.Close(time.Time{})
	var got []string
	for _, c := range cells {
		got = append(got, fmt.Sprintf("%s#%d n=%d sum=%g", c.Key, c.Window.Start, c.Count, c.Fields["amount"].Sum))
	}
	if strings.Join(got, " ") != "a#0 n=2 sum=2 b#0 n=2 sum=5" {
		t.Fatalf("count windows %v", got)
	}
	if len(w.State.Open) != 1 {
		t.Fatalf("open cells %d, want a's second window", len(w.State.Open))
	}
}

// TestStateRoundTrip stores the state as JSON mid-stream, as the stream
// path keeps it between invocations, and gets the same results.
func TestStateRoundTrip(t *testing.T) {
	spec := window.Spec{Kind: window.Tumbling, Size: time.Minute, Fields: []string{"amount"}}
	recs := []window.Record{{Time: at(1), Key: "x", Values: map[string]float64{"amount": 1}}, {Time: at(2), Key: "x", Values: map[string]float64{"amount": 5}},
		{Time: at(61), Key: "x", Values: map[string]float64{"amount": 7}}, {Time: at(125), Key: "y"}}
	one, _ := window.New(spec)
	for _, r := range recs {
		one.Add(r)
	}
	want := show(one.Close(time.Time{}))
	two, _ := window.New(spec)
	for i, r := range recs {
		two.Add(r)
		data, err := json.Marshal(two.State)
		if err != nil {
			t.Fatal(err)
		}
		restored, _ := window.New(spec)
		if err := json.Unmarshal(data, &restored.State); err != nil {
			t.Fatalf("after record %d: %v", i, err)
		}
		two = restored
	}
	if got := show(two.Close(time.Time{})); got != want || want == "" {
		t.Fatalf("restored %q, want %q", got, want)
	}
	if !math.IsNaN((window.Agg{}).Avg()) {
		t.Fatal("empty average is not NaN")
	}
}
