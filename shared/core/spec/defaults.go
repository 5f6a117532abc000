package spec

import (
	"fmt"

	"github.com/sluice-etl/sluice/shared/core/window"
)

// applyDefaults fills in, once and before the checks, what a spec may
// leave out and its users read as set: the version, field types, check and
// filter names, the window's time mode and late policy, the stream's
// failure mode and the reject policy. Options whose empty value is their
// default (source format and compression, BOM, sink format and
// compression) stay empty; the limits' defaults are applied where they
// are used.
func (s *Spec) applyDefaults() {
	if s.Version == 0 {
		s.Version = 1
	}
	for i := range s.Fields {
		if s.Fields[i].Type == "" {
			s.Fields[i].Type = "string"
		}
	}
	for i := range s.Validate {
		if s.Validate[i].Name == "" {
			s.Validate[i].Name = fmt.Sprintf("check%d", i+1)
		}
	}
	for i := range s.Filter {
		if s.Filter[i].Name == "" {
			s.Filter[i].Name = fmt.Sprintf("filter%d", i+1)
		}
	}
	if w := s.Window; w != nil {
		if w.Time == "" && w.Kind != window.Count {
			w.Time = WindowArrivalTime
			if w.TimeField != "" {
				w.Time = WindowEventTime
			}
		}
		if w.Late == "" {
			w.Late = window.LateDrop
		}
	}
	if s.Stream.OnFailure == "" {
		s.Stream.OnFailure = OnFailureReport
	}
	if s.Rejects.Policy == "" {
		s.Rejects.Policy = RejectQuarantine
	}
}
