package dynamostate_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-etl/sluice/internal/motoserver"
	"github.com/sluice-etl/sluice/shared/window"
	"github.com/sluice-etl/sluice/shared/window/dynamostate"
	"github.com/sluice-etl/sluice/shared/window/windowtest"
)

var (
	db     *dynamodb.Client
	dbErr  error
	tables int
)

func TestMain(m *testing.M) {
	srv, err := motoserver.Start(context.Background())
	dbErr = err
	if err == nil {
		cfg, err := srv.Config(context.Background())
		dbErr = err
		db = dynamodb.NewFromConfig(cfg)
	}
	code := m.Run()
	srv.Stop()
	os.Exit(code)
}

func newTable(t *testing.T) string {
	t.Helper()
	motoserver.Need(t, dbErr)
	tables++
	name := fmt.Sprintf("windows-%d", tables)
	if _, err := db.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName: aws.String(name), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
	}); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestConformanceOnMoto runs the store suite, the exactly-once property
// included, against DynamoDB on moto.
func TestConformanceOnMoto(t *testing.T) {
	windowtest.Run(t, func(t *testing.T) (window.Store, windowtest.Results) {
		table := newTable(t)
		return dynamostate.New(db, table), func(t *testing.T) map[string]window.Cell {
			out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
			if err != nil {
				t.Fatal(err)
			}
			st := dynamostate.New(db, table)
			res := map[string]window.Cell{}
			for _, it := range out.Items {
				pk := it["pk"].(*types.AttributeValueMemberS).Value
				if !strings.HasPrefix(pk, "window#") {
					continue
				}
				var b window.Bounds
				fmt.Sscanf(strings.TrimPrefix(pk, "window#"), "%d/%d", &b.Start, &b.End)
				cells, err := st.Window(context.Background(), b)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range cells {
					res[window.ResultKey(c)] = c
				}
			}
			return res
		}
	})
}

func TestLimitsRefusedClearly(t *testing.T) {
	st := dynamostate.New(db, newTable(t))
	big := window.Snapshot{Version: 1, State: window.State{Open: map[string]*window.Cell{}}}
	for i := range 5000 {
		big.State.Open[fmt.Sprintf("%d/%d/key-%05d", i, i+1, i)] = &window.Cell{Key: fmt.Sprintf("key-%05d", i), Count: 1}
	}
	if err := st.Save(context.Background(), "s", 0, big, nil); !errors.Is(err, dynamostate.ErrStateTooLarge) {
		t.Fatalf("large state: %v", err)
	}
	many := make([]window.Cell, 100)
	if err := st.Save(context.Background(), "s", 0, window.Snapshot{Version: 1}, many); !errors.Is(err, dynamostate.ErrTooManyClosed) {
		t.Fatalf("many results: %v", err)
	}
}

func TestExpiredResultsAreIgnored(t *testing.T) {
	table := newTable(t)
	st := dynamostate.New(db, table)
	c := window.Cell{Window: window.Bounds{Start: 0, End: 60000}, Key: "k", Count: 1}
	if err := st.Save(context.Background(), "s", 0, window.Snapshot{Version: 1}, []window.Cell{c}); err != nil {
		t.Fatal(err)
	}
	if cells, _ := st.Window(context.Background(), c.Window); len(cells) != 1 {
		t.Fatalf("fresh result: %v", cells)
	}
	later := dynamostate.New(db, table)
	later.Now = func() time.Time { return time.Now().Add(31 * 24 * time.Hour) }
	if cells, _ := later.Window(context.Background(), c.Window); len(cells) != 0 {
		t.Fatalf("expired result still read: %v", cells)
	}
}
