package spec

import (
	"fmt"
	"time"

	"github.com/sluice-etl/sluice/shared/core/window"
)

// Spec is the window section as the window package reads it.
func (w *Window) Spec() window.Spec {
	return window.Spec{Kind: w.Kind, Size: time.Duration(w.Size), Hop: time.Duration(w.Hop),
		Every: w.Every, Lateness: time.Duration(w.Lateness), Late: w.Late,
		Fields: w.Aggregate, ByArrival: w.Time == WindowArrivalTime}
}

// window checks the window section: the window package's own rules
// (window.Spec.CheckKind and CheckLateness), and the rules that involve
// the declared fields, the time mode, the late policy and Lambda's own
// windows.
func (c *checker) window() {
	w := c.s.Window
	if w == nil {
		return
	}
	ws := w.Spec()
	c.addWindowErr(ws.CheckKind())
	if w.Kind == window.Count && (w.Time != "" || w.TimeField != "" || w.Lateness != 0) {
		c.add("window", "time, time_field and lateness do not apply to count windows")
	}
	types := map[string]string{}
	for _, f := range c.s.Fields {
		types[f.Name] = f.Type
	}
	for _, d := range c.s.Derive {
		types[d.Name] = d.Type
	}
	if w.Kind != window.Count {
		c.windowTime(w, types)
	}
	c.knownList("window.group_by", w.GroupBy)
	c.windowAggregate(w, types)
	c.addWindowErr(ws.CheckLateness())
	c.addErr("window.late", w.Late.Check())
	if w.Keep < 0 {
		c.add("window.keep", "must not be negative")
	}
	if w.Native {
		c.nativeWindow(w)
	}
}

func (c *checker) addWindowErr(e *window.SpecError) {
	if e != nil {
		c.add("window."+e.Key, "%s", e.Msg)
	}
}

// windowTime checks the time mode of a time window against its time
// field; types are the declared types of the fields and derived fields.
func (c *checker) windowTime(w *Window, types map[string]string) {
	switch w.Time {
	case WindowEventTime:
		switch t, ok := types[w.TimeField]; {
		case w.TimeField == "":
			c.add("window.time_field", "event-time windows need the timestamp field")
		case !ok:
			c.add("window.time_field", "unknown field %q", w.TimeField)
		case t != "timestamp" && t != "date":
			c.add("window.time_field", "field %q is %s, not a timestamp or date", w.TimeField, t)
		}
	case WindowArrivalTime:
		if w.TimeField != "" {
			c.add("window.time_field", "arrival-time windows use the stream's arrival time; remove time_field")
		}
	default:
		c.addErr("window.time", w.Time.Check())
	}
}

// windowAggregate checks that the aggregated fields are numbers.
func (c *checker) windowAggregate(w *Window, types map[string]string) {
	for i, a := range w.Aggregate {
		key := fmt.Sprintf("window.aggregate[%d]", i)
		switch t, ok := types[a]; {
		case !ok:
			c.add(key, "unknown field %q", a)
		case t != "" && t != "int" && t != "float" && t != "decimal":
			c.add(key, "field %q is %s; only int, float and decimal fields are aggregated", a, t)
		}
	}
}

// nativeWindow checks a window that uses Lambda's own tumbling windows.
func (c *checker) nativeWindow(w *Window) {
	switch {
	case w.Kind != window.Tumbling:
		c.add("window.native", "Lambda's own windows are tumbling only")
	case w.Time != WindowArrivalTime:
		c.add("window.native", "Lambda's own windows are by arrival time; set time: arrival")
	case w.Size > Duration(MaxNativeWindow) || w.Size%Duration(time.Second) != 0:
		c.add("window.size", "Lambda's own windows are whole seconds up to 15m; use native: false for longer windows")
	case w.Lateness != 0 || w.Late == window.LateSide:
		c.add("window.lateness", "Lambda's own windows have no lateness")
	}
}
