package spec

import "github.com/sluice-etl/sluice/shared/core/enum"

// The spec's enumerated options that belong to no other package. Each is
// a type with its constants, the list of its values in the order messages
// name them, and one Check method. The others are declared where they are
// used: codec.Format, codec.Compression and codec.SinkFormat, window.Kind
// and window.LatePolicy.

// BOMPolicy says what becomes of a leading UTF-8 byte order mark in CSV
// input.
type BOMPolicy string

// BOM policies.
const (
	BOMStrip BOMPolicy = "strip" // the default
	BOMKeep  BOMPolicy = "keep"
)

// BOMPolicies are the BOM policies, in the order messages list them.
var BOMPolicies = []BOMPolicy{BOMStrip, BOMKeep}

// Check validates a BOM policy: one of BOMPolicies, or "" (strip).
func (p BOMPolicy) Check() error {
	if p == "" {
		return nil
	}
	return enum.Check(p, BOMPolicies)
}

// WindowTime says which time places a record in its windows.
type WindowTime string

// Window time modes.
const (
	WindowEventTime   WindowTime = "event"   // the window's time_field
	WindowArrivalTime WindowTime = "arrival" // the stream's arrival time
)

// WindowTimes are the window time modes, in the order messages list them.
var WindowTimes = []WindowTime{WindowEventTime, WindowArrivalTime}

// Check validates a window time mode: one of WindowTimes.
func (t WindowTime) Check() error { return enum.Check(t, WindowTimes) }

// FailureMode says which records of a stream batch are returned as failed
// when a shard fails.
type FailureMode string

// Stream failure modes.
const (
	OnFailureReport   FailureMode = "report"
	OnFailureFailFast FailureMode = "fail_fast"
)

// FailureModes are the stream failure modes, in the order messages list
// them.
var FailureModes = []FailureMode{OnFailureReport, OnFailureFailFast}

// Check validates a stream failure mode: one of FailureModes.
func (m FailureMode) Check() error { return enum.Check(m, FailureModes) }

// RejectPolicy says what becomes of a batch run's rejected records.
type RejectPolicy string

// Reject policies.
const (
	RejectQuarantine RejectPolicy = "quarantine" // written aside, the run goes on
	RejectFail       RejectPolicy = "fail"       // the run fails
)

// RejectPolicies are the reject policies, in the order messages list them.
var RejectPolicies = []RejectPolicy{RejectQuarantine, RejectFail}

// Check validates a reject policy: one of RejectPolicies.
func (p RejectPolicy) Check() error { return enum.Check(p, RejectPolicies) }
