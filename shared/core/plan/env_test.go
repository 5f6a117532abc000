package plan_test

import (
	"testing"
)

// $env is the record: by name ($env.name, $env["name"]) it is the field,
// and as a whole (len, keys, in) it holds every field and derived field an
// expression at that place can see, as the same names do.
func TestEnvIsTheRecord(t *testing.T) {
	p := compile(t, doc(
		"fields:",
		"  - {name: id, type: int}",
		"  - {name: name, rules: {expr: 'len($env) == 4 && $env.value == $env.name'}}",
		"  - {name: secret, drop: true}",
		"derive:",
		"  - {name: n, expr: 'len($env)', type: int}",
		"  - {name: big, expr: 'upper($env.name) + string($env[\"id\"])'}",
		"  - {name: seen, expr: 'join(sort(keys($env)), \",\")'}",
		"  - {name: later, expr: '\"later\" in $env'}",
		"validate:",
		"  - {name: positive, expr: '$env[\"id\"] > 0'}",
		"filter: '$env.name != \"skip\" && len($env) == 7'",
	))
	pr := p.NewProcessor()
	checkOutcome(t, process(t, pr, rec(str("1"), str("a"), str("s"))),
		keep(I(1), S("a"), I(3), S("A1"), S("big,id,n,name,secret"), B(false)))
	checkOutcome(t, process(t, pr, rec(str("2"), str("skip"), str("s"))), filtered("filter:filter"))
	checkOutcome(t, process(t, pr, rec(str("0"), str("b"), str("s"))), reject("", "check:positive", "check is false"))
	// The derived fields of the record before are not in the next one's
	// $env before they are derived again (n is 3, later is false).
	checkOutcome(t, process(t, pr, rec(str("3"), str("c"), str("s"))),
		keep(I(3), S("c"), I(3), S("C3"), S("big,id,n,name,secret"), B(false)))
}

// With $env read by name only, the plan fills in just the fields read,
// as it does for plain names.
func TestEnvByName(t *testing.T) {
	p := compile(t, "fields: [{name: id, type: int}, {name: name}]\nfilter: '$env.name == \"a\"'\n")
	pr := p.NewProcessor()
	checkOutcome(t, process(t, pr, rec(str("1"), str("a"))), keep(I(1), S("a")))
	checkOutcome(t, process(t, pr, rec(str("2"), str("b"))), filtered("filter:filter"))
}
