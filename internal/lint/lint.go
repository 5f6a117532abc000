// Package lint checks what no other tool here checks: that the state
// machine definitions are sound (targets exist, every state is reachable,
// every Lambda task retries), that every ${...} placeholder has a
// DefinitionSubstitutions entry, and that the functions' environment in
// template.yaml matches what the handlers read.
package lint

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sluice-etl/sluice/internal/samtemplate"
	"github.com/sluice-etl/sluice/shared/adapter/metrics"
	"github.com/sluice-etl/sluice/shared/handler"
)

// Problem is one finding.
type Problem struct {
	File string
	Path string
	Msg  string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.File + ": " + p.Msg
	}
	return p.File + ": " + p.Path + ": " + p.Msg
}

// RequiredLambdaRetry are the errors AWS recommends every Lambda task
// retries on.
var RequiredLambdaRetry = []string{"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException"}

type state struct {
	Type       string                  `json:"Type"`
	Next       string                  `json:"Next"`
	End        bool                    `json:"End"`
	Default    string                  `json:"Default"`
	Resource   string                  `json:"Resource"`
	Parameters json.RawMessage         `json:"Parameters"`
	Choices    []struct{ Next string } `json:"Choices"`
	Catch      []struct{ Next string } `json:"Catch"`
	Retry      []struct {
		ErrorEquals []string `json:"ErrorEquals"`
		MaxAttempts *int     `json:"MaxAttempts"`
	} `json:"Retry"`
	ItemProcessor *machine  `json:"ItemProcessor"`
	Iterator      *machine  `json:"Iterator"`
	Branches      []machine `json:"Branches"`
}

type machine struct {
	StartAt string           `json:"StartAt"`
	States  map[string]state `json:"States"`
}

// ASL checks one state machine definition.
func ASL(file string, def []byte) []Problem {
	var m machine
	if err := json.Unmarshal(def, &m); err != nil {
		return []Problem{{File: file, Msg: "does not parse as JSON: " + err.Error()}}
	}
	var out []Problem
	checkMachine(problems{file: file, out: &out}, &m)
	return out
}

// problems collects the findings in one file, their paths under scope.
type problems struct {
	file, scope string
	out         *[]Problem
}

func (p problems) add(path, format string, args ...any) {
	*p.out = append(*p.out, Problem{File: p.file, Path: p.scope + path, Msg: fmt.Sprintf(format, args...)})
}

// within is p for the findings of a nested machine.
func (p problems) within(scope string) problems {
	p.scope += scope
	return p
}

// machineCheck checks one machine: its states in name order, then which
// of them StartAt reaches.
type machineCheck struct {
	problems
	m     *machine
	edges map[string][]string // state → the states it may go to
}

func checkMachine(p problems, m *machine) {
	if len(m.States) == 0 {
		p.add("States", "no states")
		return
	}
	c := &machineCheck{problems: p, m: m, edges: map[string][]string{}}
	if _, ok := m.States[m.StartAt]; !ok {
		c.add("StartAt", "StartAt %q names no state", m.StartAt)
	}
	names := slices.Sorted(maps.Keys(m.States))
	for _, n := range names {
		s := m.States[n]
		c.targets(n, s)
		c.shape(n, s)
		c.nested(n, s)
	}
	c.reachable(names)
}

// targets checks that every transition of state n names a state, and
// records it.
func (c *machineCheck) targets(n string, s state) {
	target := func(field, t string) {
		if t == "" {
			return
		}
		if _, ok := c.m.States[t]; !ok {
			c.add(n+"."+field, "target %q does not exist", t)
			return
		}
		c.edges[n] = append(c.edges[n], t)
	}
	target("Next", s.Next)
	target("Default", s.Default)
	for i, ch := range s.Choices {
		target(fmt.Sprintf("Choices[%d].Next", i), ch.Next)
	}
	for i, ct := range s.Catch {
		target(fmt.Sprintf("Catch[%d].Next", i), ct.Next)
	}
}

// shape checks what state n's type requires, and that a Lambda task
// retries the errors AWS recommends.
func (c *machineCheck) shape(n string, s state) {
	switch s.Type {
	case "Choice":
		if len(s.Choices) == 0 {
			c.add(n, "a Choice state needs Choices")
		}
	case "Succeed", "Fail":
	case "":
		c.add(n, "no Type")
	default:
		if s.Next == "" && !s.End {
			c.add(n, "neither Next nor End")
		}
	}
	if !isLambdaTask(s) {
		return
	}
	for _, want := range RequiredLambdaRetry {
		if !retries(s, want) {
			c.add(n+".Retry", "Lambda task does not retry %s", want)
		}
	}
	if i, ok := retriesConfigErrors(s); ok {
		c.add(fmt.Sprintf("%s.Retry[%d]", n, i), "retries %s: a configuration error must fail the execution at once (put {\"ErrorEquals\": [%q], \"MaxAttempts\": 0} first)",
			handler.ConfigErrorType, handler.ConfigErrorType)
	}
}

// retriesConfigErrors reports the retrier that would retry a function's
// configuration error, if any: the first that matches it, unless that
// one allows no attempts.
func retriesConfigErrors(s state) (int, bool) {
	for i, r := range s.Retry {
		for _, e := range r.ErrorEquals {
			if e == handler.ConfigErrorType || e == "States.ALL" || e == "States.TaskFailed" {
				return i, r.MaxAttempts == nil || *r.MaxAttempts > 0
			}
		}
	}
	return 0, false
}

// nested checks the machines of a Map or Parallel state.
func (c *machineCheck) nested(n string, s state) {
	if s.ItemProcessor != nil {
		checkMachine(c.within(n+".ItemProcessor."), s.ItemProcessor)
	}
	if s.Iterator != nil {
		checkMachine(c.within(n+".Iterator."), s.Iterator)
	}
	for i := range s.Branches {
		checkMachine(c.within(fmt.Sprintf("%s.Branches[%d].", n, i)), &s.Branches[i])
	}
}

// reachable reports the states StartAt does not reach (when it names a
// state at all).
func (c *machineCheck) reachable(names []string) {
	if _, ok := c.m.States[c.m.StartAt]; !ok {
		return
	}
	seen := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, t := range c.edges[n] {
			walk(t)
		}
	}
	walk(c.m.StartAt)
	for _, n := range names {
		if !seen[n] {
			c.add(n, "unreachable from StartAt %q", c.m.StartAt)
		}
	}
}

func isLambdaTask(s state) bool {
	if s.Type != "Task" {
		return false
	}
	return strings.HasPrefix(s.Resource, "arn:aws:states:::lambda:invoke") ||
		strings.Contains(s.Resource, ":lambda:") || strings.Contains(s.Resource, "FunctionArn}")
}

func retries(s state, errName string) bool {
	for _, r := range s.Retry {
		for _, e := range r.ErrorEquals {
			if e == errName || e == "States.ALL" {
				return true
			}
		}
	}
	return false
}

var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// Placeholders lists the ${...} names in a definition.
func Placeholders(def []byte) []string {
	set := map[string]bool{}
	for _, m := range placeholderRE.FindAllSubmatch(def, -1) {
		set[string(m[1])] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Template checks template.yaml: each state machine's definition file
// (ASL checks and placeholders against DefinitionSubstitutions) and each
// function's environment against handler.EnvByFunction. readFile reads
// paths relative to the template's directory.
func Template(file string, data []byte, readFile func(string) ([]byte, error)) []Problem {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return []Problem{{File: file, Msg: "does not parse as YAML: " + err.Error()}}
	}
	if len(root.Content) == 0 {
		return []Problem{{File: file, Msg: "empty"}}
	}
	doc := root.Content[0]
	var out []Problem
	p := problems{file: file, out: &out}
	globalEnv := keys(get(doc, "Globals", "Function", "Environment", "Variables"))
	resources := get(doc, "Resources")
	if resources == nil {
		p.add("Resources", "missing")
		return out
	}
	functions := 0
	for i := 0; i+1 < len(resources.Content); i += 2 {
		name, res := resources.Content[i].Value, resources.Content[i+1]
		switch scalar(get(res, "Type")) {
		case "AWS::Serverless::Function":
			functions++
			checkFunctionEnv(p, name, res, globalEnv)
		case "AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine":
			checkDefinition(p, name, res, readFile)
		case "AWS::CloudWatch::Dashboard":
			checkDashboard(p.within("Resources."+name+".Properties."), get(res, "Properties", "DashboardBody"))
		}
	}
	if functions == 0 {
		p.add("Resources", "no AWS::Serverless::Function")
	}
	checkStreamSources(resources, p.add)
	checkSecurity(resources, p.add)
	return out
}

// checkFunctionEnv checks a function's environment (its own and the
// global one) against what its handler reads.
func checkFunctionEnv(p problems, name string, res *yaml.Node, globalEnv map[string]bool) {
	fn := scalar(get(res, "Metadata", "SluiceFunction"))
	want, ok := handler.EnvByFunction[fn]
	if !ok {
		p.add("Resources."+name+".Metadata.SluiceFunction", "must name the sluice function (extract, transform, load or commit), not %q", fn)
		return
	}
	env := maps.Clone(globalEnv)
	maps.Copy(env, keys(get(res, "Properties", "Environment", "Variables")))
	for v, required := range want {
		if required && !env[v] {
			p.add("Resources."+name+".Properties.Environment", "%s reads %s, which is not set", fn, v)
		}
	}
	for _, v := range sortedKeys(env) {
		if _, read := want[v]; strings.HasPrefix(v, "SLUICE_") && !read {
			p.add("Resources."+name+".Properties.Environment", "%s is set but the %s function does not read it", v, fn)
		}
	}
}

var (
	subRE    = regexp.MustCompile(`\$\{[A-Za-z0-9_:.]+\}`)
	searchRE = regexp.MustCompile(`\{([^,}]+)((?:,[^,}]+)*)\}[^']*?MetricName="([^"]+)"`)
)

// checkDashboard checks that a dashboard's body is JSON once its !Sub
// placeholders are filled, and that every metric it shows from sluice's
// namespace is one the functions emit.
func checkDashboard(p problems, body *yaml.Node) {
	if body == nil {
		p.add("DashboardBody", "missing")
		return
	}
	var doc struct {
		Widgets []struct {
			Properties struct {
				Metrics [][]any `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(subRE.ReplaceAllString(body.Value, "X")), &doc); err != nil {
		p.add("DashboardBody", "is not JSON: %v", err)
		return
	}
	for i, w := range doc.Widgets {
		for _, m := range w.Properties.Metrics {
			for _, sm := range sluiceMetrics(m) {
				at := fmt.Sprintf("DashboardBody.widgets[%d]", i)
				if !slices.Contains(metrics.MetricNames(), sm.name) {
					p.add(at, "metric %s/%s is not one the functions emit (%s)", metrics.Namespace, sm.name, strings.Join(metrics.MetricNames(), ", "))
				}
				if sm.dims != nil && !slices.ContainsFunc(metrics.DimensionSets(true), func(d []string) bool { return slices.Equal(d, sm.dims) }) {
					p.add(at, "SEARCH on dimensions %v: the functions emit %s with %v", sm.dims, sm.name, metrics.DimensionSets(true))
				}
			}
		}
	}
}

// sluiceMetric is a metric of sluice's namespace a dashboard shows, and
// the dimension set a SEARCH expression asks for (nil for a plain row).
type sluiceMetric struct {
	name string
	dims []string
}

// sluiceMetrics are the metrics of sluice's namespace one dashboard row
// shows: [namespace, name, ...] or SEARCH expressions.
func sluiceMetrics(row []any) []sluiceMetric {
	if len(row) >= 2 && row[0] == metrics.Namespace {
		name, _ := row[1].(string)
		return []sluiceMetric{{name: name}}
	}
	var out []sluiceMetric
	for _, cell := range row {
		opts, _ := cell.(map[string]any)
		expr, _ := opts["expression"].(string)
		for _, m := range searchRE.FindAllStringSubmatch(expr, -1) {
			if m[1] == metrics.Namespace {
				dims := strings.Split(strings.TrimPrefix(m[2], ","), ",")
				out = append(out, sluiceMetric{name: m[3], dims: dims})
			}
		}
	}
	return out
}

// checkDefinition checks a state machine's definition file, and its
// placeholders against DefinitionSubstitutions both ways.
func checkDefinition(p problems, name string, res *yaml.Node, readFile func(string) ([]byte, error)) {
	uri := scalar(get(res, "Properties", "DefinitionUri"))
	if uri == "" {
		return
	}
	def, err := readFile(uri)
	if err != nil {
		p.add("Resources."+name+".Properties.DefinitionUri", "%v", err)
		return
	}
	*p.out = append(*p.out, ASL(uri, def)...)
	subs := keys(get(res, "Properties", "DefinitionSubstitutions"))
	used := map[string]bool{}
	for _, ph := range Placeholders(def) {
		used[ph] = true
		if !subs[ph] {
			p.add("Resources."+name+".Properties.DefinitionSubstitutions", "%s uses ${%s}, which has no entry", uri, ph)
		}
	}
	for _, k := range sortedKeys(subs) {
		if !used[k] {
			p.add("Resources."+name+".Properties.DefinitionSubstitutions", "%s is not used by %s", k, uri)
		}
	}
}

// dataActionPrefixes are the actions that read or write data.
var dataActionPrefixes = []string{"s3:Get", "s3:Put", "s3:Delete", "s3:List", "s3:Abort", "s3:*", "dynamodb:", "kinesis:Get", "kinesis:Put",
	"kinesis:Subscribe", "kinesis:*", "sqs:Send", "sqs:Receive", "sqs:Delete", "sqs:*", "states:Start", "lambda:Invoke", "kms:Decrypt", "*"}

func isDataAction(a string) bool {
	for _, p := range dataActionPrefixes {
		if a == p || strings.HasPrefix(a, p) {
			return true
		}
	}
	return false
}

// checkSecurity: no Allow statement grants a data action on Resource
// "*"; every bucket is encrypted, blocks public access and has a policy
// that denies requests without TLS.
func checkSecurity(resources *yaml.Node, add func(path, format string, args ...any)) {
	tlsDenied := map[string]bool{}
	for i := 0; i+1 < len(resources.Content); i += 2 {
		name, res := resources.Content[i].Value, resources.Content[i+1]
		if scalar(get(res, "Type")) == "AWS::S3::BucketPolicy" {
			for _, st := range seqOf(get(res, "Properties", "PolicyDocument", "Statement")) {
				if scalar(get(st, "Effect")) == "Deny" && scalar(get(st, "Condition", "Bool", "aws:SecureTransport")) == "false" {
					tlsDenied[refTarget(get(res, "Properties", "Bucket"))] = true
				}
			}
		}
		statements := func(path string, n *yaml.Node) {
			for j, st := range seqOf(n) {
				if scalar(get(st, "Effect")) != "Allow" {
					continue
				}
				var targets []string
				if r := get(st, "Resource"); r != nil && r.Kind == yaml.SequenceNode {
					for _, x := range r.Content {
						targets = append(targets, x.Value)
					}
				} else if r != nil {
					targets = append(targets, r.Value)
				}
				if !slices.Contains(targets, "*") {
					continue
				}
				actions := seqOf(get(st, "Action"))
				if a := get(st, "Action"); a != nil && a.Kind == yaml.ScalarNode {
					actions = []*yaml.Node{a}
				}
				for _, a := range actions {
					if isDataAction(a.Value) {
						add(fmt.Sprintf("%s.Statement[%d]", path, j), "%s on Resource \"*\": scope data actions to the resources they need", a.Value)
						break
					}
				}
			}
		}
		for j, pol := range seqOf(get(res, "Properties", "Policies")) {
			statements(fmt.Sprintf("Resources.%s.Properties.Policies[%d]", name, j), get(pol, "Statement"))
		}
		statements("Resources."+name+".Properties.PolicyDocument", get(res, "Properties", "PolicyDocument", "Statement"))
	}
	for i := 0; i+1 < len(resources.Content); i += 2 {
		name, res := resources.Content[i].Value, resources.Content[i+1]
		if scalar(get(res, "Type")) != "AWS::S3::Bucket" {
			continue
		}
		path := "Resources." + name + ".Properties"
		if get(res, "Properties", "BucketEncryption", "ServerSideEncryptionConfiguration") == nil {
			add(path+".BucketEncryption", "the bucket is not encrypted by default")
		}
		pab := get(res, "Properties", "PublicAccessBlockConfiguration")
		for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
			if scalar(get(pab, k)) != "true" {
				add(path+".PublicAccessBlockConfiguration", "%s is not true", k)
			}
		}
		if !tlsDenied[name] {
			add(path, "no bucket policy denies requests without TLS (aws:SecureTransport false)")
		}
	}
}

// streamSource is one Kinesis event source: where it is declared, the
// function it invokes and its settings.
type streamSource struct {
	path, function string
	props          *yaml.Node
}

// checkStreamSources checks the Kinesis event sources of functions that
// return batch item failures (extract): Lambda ignores those unless the
// source sets FunctionResponseTypes, and retries whole batches instead.
func checkStreamSources(resources *yaml.Node, add func(path, format string, args ...any)) {
	fnOf := map[string]string{}
	var sources []streamSource
	for i := 0; i+1 < len(resources.Content); i += 2 {
		name, res := resources.Content[i].Value, resources.Content[i+1]
		switch scalar(get(res, "Type")) {
		case "AWS::Serverless::Function":
			fnOf[name] = scalar(get(res, "Metadata", "SluiceFunction"))
			evs := get(res, "Properties", "Events")
			if evs == nil {
				continue
			}
			for j := 0; j+1 < len(evs.Content); j += 2 {
				if scalar(get(evs.Content[j+1], "Type")) == "Kinesis" {
					sources = append(sources, streamSource{"Resources." + name + ".Properties.Events." + evs.Content[j].Value + ".Properties", name, get(evs.Content[j+1], "Properties")})
				}
			}
		case "AWS::Lambda::EventSourceMapping":
			p := get(res, "Properties")
			if src := refTarget(get(p, "EventSourceArn")); src != "" && scalar(get(resources, src, "Type")) == "AWS::Kinesis::Stream" {
				sources = append(sources, streamSource{"Resources." + name + ".Properties", refTarget(get(p, "FunctionName")), p})
			}
		}
	}
	for _, src := range sources {
		if !handler.ReturnsBatchItemFailures[fnOf[src.function]] {
			continue
		}
		reports := false
		for _, t := range seqOf(get(src.props, "FunctionResponseTypes")) {
			reports = reports || t.Value == "ReportBatchItemFailures"
		}
		if !reports {
			add(src.path, "%s returns BatchItemFailures, but FunctionResponseTypes does not list ReportBatchItemFailures: Lambda would ignore them and retry whole batches", src.function)
		}
		if v := scalar(get(src.props, "ParallelizationFactor")); v != "" && v != "1" {
			add(src.path+".ParallelizationFactor", "must be 1: a shard's checkpoint orders its records, and concurrent batches of one shard would skip each other's records")
		}
		if get(src.props, "DestinationConfig", "OnFailure", "Destination") == nil {
			add(src.path+".DestinationConfig", "no OnFailure destination: records that use up their retries would be dropped without a trace")
		}
	}
}

// refTarget is the resource a !Ref, Ref, !GetAtt or Fn::GetAtt names.
func refTarget(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	switch {
	case n.Tag == "!Ref":
		return n.Value
	case n.Tag == "!GetAtt":
		id, _, _ := strings.Cut(n.Value, ".")
		return id
	case n.Kind == yaml.MappingNode && len(n.Content) == 2:
		switch n.Content[0].Value {
		case "Ref":
			return n.Content[1].Value
		case "Fn::GetAtt":
			if v := n.Content[1]; v.Kind == yaml.SequenceNode && len(v.Content) > 0 {
				return v.Content[0].Value
			}
			id, _, _ := strings.Cut(n.Content[1].Value, ".")
			return id
		}
	}
	return ""
}

func seqOf(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// Files lints a template file and the definitions it names.
func Files(templatePath string) ([]Problem, error) {
	data, err := os.ReadFile(templatePath)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(templatePath)
	return Template(templatePath, data, func(p string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
	}), nil
}

var (
	get    = samtemplate.Get
	scalar = samtemplate.Scalar
)

func keys(n *yaml.Node) map[string]bool {
	out := map[string]bool{}
	if n == nil || n.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		out[n.Content[i].Value] = true
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
