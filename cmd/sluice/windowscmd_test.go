package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-etl/sluice/internal/motoserver"
	"github.com/sluice-etl/sluice/shared/adapter/windowstate/dynamostate"
	"github.com/sluice-etl/sluice/shared/core/window"
)

func TestWindowsCommand(t *testing.T) {
	cfg := motoserver.ForTest(t)
	ctx := context.Background()
	db := dynamodb.NewFromConfig(cfg)
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("win"), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
	}); err != nil {
		t.Fatal(err)
	}
	st := dynamostate.New(db, "win")
	b := window.Bounds{Start: 1795428000000, End: 1795428060000} // 2026-11-23T10:00Z
	cells := func(shard string, n int64, sum float64) []window.Cell {
		return []window.Cell{{Window: b, Key: "/home", Shard: shard, Count: n, Fields: map[string]window.Agg{"amount_cents": {Count: n, Sum: sum, Min: 1, Max: sum - 1}}}}
	}
	snap := window.Snapshot{Version: 1, LastSeq: "42"}
	snap.Counts.AddOut()
	if err := st.Save(ctx, "s/shard-0", 0, snap, cells("s/shard-0", 2, 10)); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(ctx, "s/shard-1", 0, window.Snapshot{Version: 1, LastSeq: "7"}, cells("s/shard-1", 3, 20)); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, "windows", "--table", "win")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "WINDOW START") ||
		strings.Join(strings.Fields(lines[1]), " ") != "2026-11-23T10:00:00Z 2026-11-23T10:01:00Z /home 5 amount_cents 30 1 19 6" {
		t.Fatalf("table:\n%s", out)
	}
	code, out, _ = runCLI(t, "windows", "--table", "win", "--json", "--key", "/home")
	var got []windowJSON
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || len(got) != 1 || got[0].Count != 5 || got[0].Fields["amount_cents"].Avg != 6 {
		t.Fatalf("json %d: %s", code, out)
	}
	if code, out, _ = runCLI(t, "windows", "--table", "win", "--key", "/nope"); code != 0 || strings.Count(out, "\n") != 1 {
		t.Fatalf("filtered: %s", out)
	}
	code, out, _ = runCLI(t, "windows", "--table", "win", "--shards")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || strings.Join(strings.Fields(lines[1]), " ") != "s/shard-0 42 1 1 0 0 0 0 0" {
		t.Fatalf("shards:\n%s", out)
	}
	if code, _, stderr = runCLI(t, "windows"); code != 2 || !strings.Contains(stderr, "--table is required") {
		t.Fatalf("no table: %d %s", code, stderr)
	}
	if code, _, _ = runCLI(t, "windows", "--table", "win", "--since", "yesterday"); code != 2 {
		t.Fatalf("bad since: %d", code)
	}
}
