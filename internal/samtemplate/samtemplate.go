// Package samtemplate reads template.yaml for local stacks: it resolves
// parameters (defaults or overrides), Ref, GetAtt and Sub to local names
// and ARNs, so the offline stack and the LocalStack init scripts deploy
// exactly what the template says, with no second copy of the settings.
package samtemplate

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// Defaults for local ARNs: LocalStack's account and the usual region.
const (
	DefaultAccount = "000000000000"
	Region         = "us-east-1"
)

// Template is a parsed SAM template.
type Template struct {
	Dir   string
	Stack string
	// Account goes into local ARNs (moto uses 123456789012).
	Account   string
	Params    map[string]string
	root      *yaml.Node
	resources map[string]*yaml.Node
	order     []string
}

// Load reads a template. params override parameter defaults.
func Load(path, stack string, params map[string]string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: empty", path)
	}
	t := &Template{Dir: filepath.Dir(path), Stack: stack, Account: DefaultAccount, Params: map[string]string{}, root: root.Content[0], resources: map[string]*yaml.Node{}}
	if p := get(t.root, "Parameters"); p != nil {
		for i := 0; i+1 < len(p.Content); i += 2 {
			t.Params[p.Content[i].Value] = scalar(get(p.Content[i+1], "Default"))
		}
	}
	for k, v := range params {
		if _, ok := t.Params[k]; !ok {
			return nil, fmt.Errorf("%s: no parameter %q", path, k)
		}
		t.Params[k] = v
	}
	if r := get(t.root, "Resources"); r != nil {
		for i := 0; i+1 < len(r.Content); i += 2 {
			t.resources[r.Content[i].Value] = r.Content[i+1]
			t.order = append(t.order, r.Content[i].Value)
		}
	}
	return t, nil
}

// Resource is one resource of the template.
type Resource struct {
	ID   string
	Type string
	Name string // local physical name
	node *yaml.Node
}

// Node is the resource's YAML node.
func (r Resource) Node() *yaml.Node { return r.node }

// Resources lists resources of the given types, in template order.
func (t *Template) Resources(types ...string) []Resource {
	var out []Resource
	for _, id := range t.order {
		typ := scalar(get(t.resources[id], "Type"))
		for _, want := range types {
			if typ == want {
				name := t.PhysicalName(id)
				if typ == "AWS::Glue::Database" {
					name, _ = t.ref(id)
				}
				out = append(out, Resource{ID: id, Type: typ, Name: name, node: t.resources[id]})
			}
		}
	}
	return out
}

// PhysicalName is the local name of a resource: stack-kebab-case-id.
func (t *Template) PhysicalName(id string) string {
	var b strings.Builder
	b.WriteString(t.Stack)
	for i, r := range id {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('-')
		} else if i == 0 {
			b.WriteByte('-')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// Arn is the local ARN of a resource.
func (t *Template) Arn(id string) (string, error) {
	n := t.PhysicalName(id)
	switch typ := scalar(get(t.resources[id], "Type")); typ {
	case "AWS::S3::Bucket":
		return "arn:aws:s3:::" + n, nil
	case "AWS::DynamoDB::Table":
		return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", Region, t.Account, n), nil
	case "AWS::SQS::Queue":
		return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", Region, t.Account, n), nil
	case "AWS::Serverless::Function", "AWS::Lambda::Function":
		return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", Region, t.Account, n), nil
	case "AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine":
		return fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", Region, t.Account, n), nil
	case "AWS::Kinesis::Stream":
		return fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/%s", Region, t.Account, n), nil
	case "AWS::SNS::Topic":
		return fmt.Sprintf("arn:aws:sns:%s:%s:%s", Region, t.Account, n), nil
	default:
		return "", fmt.Errorf("no local ARN for %s (%s)", id, typ)
	}
}

// ref resolves Ref: a parameter's value or a resource's local name (a
// queue's Ref is its URL path name, its name here).
func (t *Template) ref(name string) (string, error) {
	switch name {
	case "AWS::Region":
		return Region, nil
	case "AWS::AccountId":
		return t.Account, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::StackName":
		return t.Stack, nil
	}
	if v, ok := t.Params[name]; ok {
		return v, nil
	}
	if res, ok := t.resources[name]; ok {
		switch scalar(get(res, "Type")) {
		case "AWS::Serverless::StateMachine":
			return t.Arn(name)
		case "AWS::Glue::Database":
			// A database is named by its input, as on AWS.
			return t.Value(get(res, "Properties", "DatabaseInput", "Name"))
		}
		return t.PhysicalName(name), nil
	}
	return "", fmt.Errorf("ref to unknown %q", name)
}

func (t *Template) getAtt(s string) (string, error) {
	id, attr, _ := strings.Cut(s, ".")
	if _, ok := t.resources[id]; !ok {
		return "", fmt.Errorf("GetAtt of unknown %q", id)
	}
	switch attr {
	case "Arn":
		return t.Arn(id)
	case "QueueName":
		return t.PhysicalName(id), nil
	}
	return "", fmt.Errorf("GetAtt %s: attribute not supported locally", s)
}

var subRE = regexp.MustCompile(`\$\{([^}]+)\}`)

// Value resolves a node to a string: a scalar, Ref, GetAtt or Sub.
func (t *Template) Value(n *yaml.Node) (string, error) {
	if n == nil {
		return "", nil
	}
	switch {
	case n.Tag == "!Ref":
		return t.ref(n.Value)
	case n.Tag == "!GetAtt":
		return t.getAtt(n.Value)
	case n.Tag == "!Sub":
		var err error
		out := subRE.ReplaceAllStringFunc(n.Value, func(m string) string {
			name := m[2 : len(m)-1]
			var v string
			var e error
			if strings.Contains(name, ".") {
				v, e = t.getAtt(name)
			} else {
				v, e = t.ref(name)
			}
			if e != nil && err == nil {
				err = e
			}
			return v
		})
		return out, err
	case n.Kind == yaml.ScalarNode:
		return n.Value, nil
	case n.Kind == yaml.MappingNode && len(n.Content) == 2:
		switch n.Content[0].Value {
		case "Ref":
			return t.ref(n.Content[1].Value)
		case "Fn::GetAtt":
			if n.Content[1].Kind == yaml.SequenceNode && len(n.Content[1].Content) == 2 {
				return t.getAtt(n.Content[1].Content[0].Value + "." + n.Content[1].Content[1].Value)
			}
			return t.getAtt(n.Content[1].Value)
		case "Fn::Sub":
			return t.Value(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!Sub", Value: n.Content[1].Value})
		}
	}
	return "", fmt.Errorf("line %d: cannot resolve this value locally", n.Line)
}

// Function is a function as a local stack runs it.
type Function struct {
	Resource
	// Sluice names the handler: extract, transform, load or commit.
	Sluice     string
	Env        map[string]string
	Timeout    int
	MemorySize int
	Runtime    string
	Arch       string
}

// Functions resolves every AWS::Serverless::Function, Globals applied.
func (t *Template) Functions() ([]Function, error) {
	g := get(t.root, "Globals", "Function")
	var out []Function
	for _, r := range t.Resources("AWS::Serverless::Function") {
		f := Function{Resource: r, Sluice: scalar(get(r.node, "Metadata", "SluiceFunction")), Env: map[string]string{}, Timeout: 3, MemorySize: 128, Runtime: "provided.al2023", Arch: "x86_64"}
		for _, src := range []*yaml.Node{g, get(r.node, "Properties")} {
			if src == nil {
				continue
			}
			if v := get(src, "Environment", "Variables"); v != nil {
				for i := 0; i+1 < len(v.Content); i += 2 {
					val, err := t.Value(v.Content[i+1])
					if err != nil {
						return nil, fmt.Errorf("%s: %s: %w", r.ID, v.Content[i].Value, err)
					}
					f.Env[v.Content[i].Value] = val
				}
			}
			for key, dst := range map[string]*int{"Timeout": &f.Timeout, "MemorySize": &f.MemorySize} {
				if n := get(src, key); n != nil {
					s, err := t.Value(n)
					if err != nil {
						return nil, fmt.Errorf("%s: %s: %w", r.ID, key, err)
					}
					if *dst, err = strconv.Atoi(s); err != nil {
						return nil, fmt.Errorf("%s: %s %q: %w", r.ID, key, s, err)
					}
				}
			}
			if n := get(src, "Runtime"); n != nil {
				f.Runtime = scalar(n)
			}
			if n := get(src, "Architectures"); n != nil && len(n.Content) == 1 {
				f.Arch = n.Content[0].Value
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// StateMachine is a state machine with its definition rendered.
type StateMachine struct {
	Resource
	Definition string
}

// StateMachines renders each state machine's DefinitionUri with its
// DefinitionSubstitutions filled in (moto does not substitute).
func (t *Template) StateMachines() ([]StateMachine, error) {
	var out []StateMachine
	for _, r := range t.Resources("AWS::Serverless::StateMachine") {
		uri := scalar(get(r.node, "Properties", "DefinitionUri"))
		def, err := os.ReadFile(filepath.Join(t.Dir, filepath.FromSlash(uri)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.ID, err)
		}
		subs := map[string]string{}
		if n := get(r.node, "Properties", "DefinitionSubstitutions"); n != nil {
			for i := 0; i+1 < len(n.Content); i += 2 {
				v, err := t.Value(n.Content[i+1])
				if err != nil {
					return nil, fmt.Errorf("%s: %s: %w", r.ID, n.Content[i].Value, err)
				}
				subs[n.Content[i].Value] = v
			}
		}
		var missing []string
		rendered := subRE.ReplaceAllStringFunc(string(def), func(m string) string {
			if v, ok := subs[m[2:len(m)-1]]; ok {
				return v
			}
			missing = append(missing, m)
			return m
		})
		if len(missing) > 0 {
			sort.Strings(missing)
			return nil, fmt.Errorf("%s: %s has no substitution for %s", r.ID, uri, strings.Join(missing, ", "))
		}
		out = append(out, StateMachine{Resource: r, Definition: rendered})
	}
	return out, nil
}

// Table is a DynamoDB table's key and TTL settings.
type Table struct {
	Resource
	Keys       [][2]string // name, HASH|RANGE
	Attributes [][2]string // name, S|N|B
	TTL        string
}

// Tables lists the DynamoDB tables.
func (t *Template) Tables() []Table {
	var out []Table
	for _, r := range t.Resources("AWS::DynamoDB::Table") {
		tb := Table{Resource: r}
		for _, k := range seq(get(r.node, "Properties", "KeySchema")) {
			tb.Keys = append(tb.Keys, [2]string{scalar(get(k, "AttributeName")), scalar(get(k, "KeyType"))})
		}
		for _, a := range seq(get(r.node, "Properties", "AttributeDefinitions")) {
			tb.Attributes = append(tb.Attributes, [2]string{scalar(get(a, "AttributeName")), scalar(get(a, "AttributeType"))})
		}
		if scalar(get(r.node, "Properties", "TimeToLiveSpecification", "Enabled")) == "true" {
			tb.TTL = scalar(get(r.node, "Properties", "TimeToLiveSpecification", "AttributeName"))
		}
		out = append(out, tb)
	}
	return out
}

// EventPrefix returns the key prefix of a state machine's EventBridge
// rule on S3 Object Created events, and the bucket resource it watches.
func (t *Template) EventPrefix(sm Resource) (bucketID, prefix string, ok bool) {
	evs := get(sm.node, "Properties", "Events")
	if evs == nil {
		return "", "", false
	}
	for i := 0; i+1 < len(evs.Content); i += 2 {
		e := evs.Content[i+1]
		if scalar(get(e, "Type")) != "EventBridgeRule" {
			continue
		}
		pat := get(e, "Properties", "Pattern")
		for _, b := range seq(get(pat, "detail", "bucket", "name")) {
			if b.Tag == "!Ref" {
				bucketID = b.Value
			}
		}
		for _, k := range seq(get(pat, "detail", "object", "key")) {
			if p := get(k, "prefix"); p != nil {
				prefix, _ = t.Value(p)
			}
		}
		return bucketID, prefix, bucketID != ""
	}
	return "", "", false
}

// Get walks mapping keys from n; nil when a key is missing.
func Get(n *yaml.Node, path ...string) *yaml.Node { return get(n, path...) }

// Scalar is a scalar node's value, or "" for anything else.
func Scalar(n *yaml.Node) string { return scalar(n) }

func get(n *yaml.Node, path ...string) *yaml.Node {
	for _, k := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return n
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func seq(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// KinesisEvent is a function's Kinesis event source as the template
// declares it: a SAM Type: Kinesis event, or an
// AWS::Lambda::EventSourceMapping on a stream.
type KinesisEvent struct {
	Function                string
	Stream                  string // the stream's local name
	StreamArn               string
	BatchSize               int
	MaxBatchingWindow       int // seconds
	StartingPosition        string
	TumblingWindow          int // seconds
	ReportBatchItemFailures bool
	Bisect                  bool
	MaxRetryAttempts        int
	ParallelizationFactor   int
	OnFailure               string // destination ARN
	// Source names the declaration, for messages.
	Source string
}

// KinesisEvents lists every function's Kinesis event sources.
func (t *Template) KinesisEvents() ([]KinesisEvent, error) {
	var out []KinesisEvent
	err := t.eachEvent("Kinesis", func(r Resource, src string, e *yaml.Node) error {
		ke, err := t.kinesisEvent(src, r.Name, get(e, "Properties"), "Stream")
		out = append(out, ke)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, r := range t.Resources("AWS::Lambda::EventSourceMapping") {
		p := get(r.node, "Properties")
		fn, err := t.Value(get(p, "FunctionName"))
		if err != nil {
			return nil, fmt.Errorf("%s: FunctionName: %w", r.ID, err)
		}
		if arn, err := t.Value(get(p, "EventSourceArn")); err != nil || !strings.HasPrefix(arn, "arn:aws:kinesis:") {
			continue
		}
		ke, err := t.kinesisEvent(r.ID, fn, p, "EventSourceArn")
		if err != nil {
			return nil, err
		}
		out = append(out, ke)
	}
	return out, nil
}

func (t *Template) kinesisEvent(source, function string, p *yaml.Node, streamKey string) (KinesisEvent, error) {
	arn, err := t.Value(get(p, streamKey))
	if err != nil {
		return KinesisEvent{}, fmt.Errorf("%s: %s: %w", source, streamKey, err)
	}
	ke := KinesisEvent{Function: function, StreamArn: arn, BatchSize: 100, StartingPosition: "LATEST", MaxRetryAttempts: -1, ParallelizationFactor: 1, Source: source}
	if j := strings.LastIndex(arn, "/"); j >= 0 {
		ke.Stream = arn[j+1:]
	}
	ints := map[string]*int{"BatchSize": &ke.BatchSize, "MaximumBatchingWindowInSeconds": &ke.MaxBatchingWindow,
		"TumblingWindowInSeconds": &ke.TumblingWindow, "MaximumRetryAttempts": &ke.MaxRetryAttempts,
		"ParallelizationFactor": &ke.ParallelizationFactor}
	for k, dst := range ints {
		if n := get(p, k); n != nil {
			s, err := t.Value(n)
			if err != nil {
				return ke, err
			}
			if *dst, err = strconv.Atoi(s); err != nil {
				return ke, fmt.Errorf("%s: %s %q: %w", source, k, s, err)
			}
		}
	}
	if n := get(p, "StartingPosition"); n != nil {
		ke.StartingPosition, _ = t.Value(n)
	}
	if n := get(p, "BisectBatchOnFunctionError"); n != nil {
		v, err := t.Value(n)
		if err != nil {
			return ke, err
		}
		ke.Bisect = v == "true"
	}
	for _, f := range seq(get(p, "FunctionResponseTypes")) {
		if f.Value == "ReportBatchItemFailures" {
			ke.ReportBatchItemFailures = true
		}
	}
	if n := get(p, "DestinationConfig", "OnFailure", "Destination"); n != nil {
		if ke.OnFailure, err = t.Value(n); err != nil {
			return ke, err
		}
	}
	return ke, nil
}

// Schedule is a function's Schedule event: an EventBridge rule that
// invokes it every Every with Input.
type Schedule struct {
	Function string
	Every    time.Duration
	Input    string
	// Source names the declaration, for messages.
	Source string
}

// Schedules lists every function's Schedule events. Only rate()
// expressions are understood.
func (t *Template) Schedules() ([]Schedule, error) {
	var out []Schedule
	err := t.eachEvent("Schedule", func(r Resource, src string, e *yaml.Node) error {
		expr, err := t.Value(get(e, "Properties", "Schedule"))
		if err != nil {
			return fmt.Errorf("%s: Schedule: %w", src, err)
		}
		every, err := ParseRate(expr)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		input := "{}"
		if n := get(e, "Properties", "Input"); n != nil {
			if input, err = t.Value(n); err != nil {
				return fmt.Errorf("%s: Input: %w", src, err)
			}
		}
		out = append(out, Schedule{Function: r.Name, Every: every, Input: input, Source: src})
		return nil
	})
	return out, err
}

// eachEvent calls fn with each SAM function event of type typ, and the
// name "<function id> <event name>" that messages give it.
func (t *Template) eachEvent(typ string, fn func(r Resource, src string, e *yaml.Node) error) error {
	for _, r := range t.Resources("AWS::Serverless::Function") {
		evs := get(r.node, "Properties", "Events")
		if evs == nil {
			continue
		}
		for i := 0; i+1 < len(evs.Content); i += 2 {
			e := evs.Content[i+1]
			if scalar(get(e, "Type")) != typ {
				continue
			}
			if err := fn(r, r.ID+" "+evs.Content[i].Value, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// ParseRate reads an EventBridge rate expression: rate(5 minutes).
func ParseRate(expr string) (time.Duration, error) {
	inner, ok := strings.CutPrefix(expr, "rate(")
	inner, ok2 := strings.CutSuffix(inner, ")")
	fields := strings.Fields(inner)
	if !ok || !ok2 || len(fields) != 2 {
		return 0, fmt.Errorf("schedule %q: want rate(N unit)", expr)
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("schedule %q: %q is not a positive number", expr, fields[0])
	}
	units := map[string]time.Duration{"minute": time.Minute, "minutes": time.Minute, "hour": time.Hour, "hours": time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour}
	unit, ok := units[fields[1]]
	if !ok {
		return 0, fmt.Errorf("schedule %q: unit %q (want minutes, hours or days)", expr, fields[1])
	}
	return time.Duration(n) * unit, nil
}
