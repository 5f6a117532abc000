package spec

import "github.com/sluice-etl/sluice/shared/core/enum"

// The spec's enumerated options that belong to no other package. Each is
// a type with its constants, the enum.Set of its values and one Check
// method. The others are declared where they are used: codec.Format,
// codec.Compression and codec.SinkFormat, window.Kind and
// window.LatePolicy.

// BOMPolicy says what becomes of a leading UTF-8 byte order mark in CSV
// input.
type BOMPolicy string

// BOM policies.
const (
	BOMStrip BOMPolicy = "strip" // the default
	BOMKeep  BOMPolicy = "keep"
)

// BOMPolicies are the BOM policies; "" is strip.
var BOMPolicies = enum.Set[BOMPolicy]{Values: []BOMPolicy{BOMStrip, BOMKeep}, EmptyOK: true}

// Check validates a BOM policy against BOMPolicies.
func (p BOMPolicy) Check() error { return BOMPolicies.Check(p) }

// WindowTime says which time places a record in its windows.
type WindowTime string

// Window time modes.
const (
	WindowEventTime   WindowTime = "event"   // the window's time_field
	WindowArrivalTime WindowTime = "arrival" // the stream's arrival time
)

// WindowTimes are the window time modes.
var WindowTimes = enum.Set[WindowTime]{Values: []WindowTime{WindowEventTime, WindowArrivalTime}}

// Check validates a window time mode against WindowTimes.
func (t WindowTime) Check() error { return WindowTimes.Check(t) }

// FailureMode says which records of a stream batch are returned as failed
// when a shard fails.
type FailureMode string

// Stream failure modes.
const (
	OnFailureReport   FailureMode = "report"
	OnFailureFailFast FailureMode = "fail_fast"
)

// FailureModes are the stream failure modes.
var FailureModes = enum.Set[FailureMode]{Values: []FailureMode{OnFailureReport, OnFailureFailFast}}

// Check validates a stream failure mode against FailureModes.
func (m FailureMode) Check() error { return FailureModes.Check(m) }

// RejectPolicy says what becomes of a batch run's rejected records.
type RejectPolicy string

// Reject policies.
const (
	RejectQuarantine RejectPolicy = "quarantine" // written aside, the run goes on
	RejectFail       RejectPolicy = "fail"       // the run fails
)

// RejectPolicies are the reject policies.
var RejectPolicies = enum.Set[RejectPolicy]{Values: []RejectPolicy{RejectQuarantine, RejectFail}}

// Check validates a reject policy against RejectPolicies.
func (p RejectPolicy) Check() error { return RejectPolicies.Check(p) }
