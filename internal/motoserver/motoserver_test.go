package motoserver_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/sluice-etl/sluice/internal/motoserver"
)

// TestGlueUpdateTableHonoursVersionID checks the launcher's Glue patch:
// two writers that read the same table version both update it; the
// first lands, the second gets ConcurrentModificationException and the
// table keeps the first one's update. Unpatched moto 5.2.1 accepts both.
func TestGlueUpdateTableHonoursVersionID(t *testing.T) {
	ctx := context.Background()
	cli := glue.NewFromConfig(motoserver.ForTest(t))
	if _, err := cli.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &types.DatabaseInput{Name: aws.String("lake")}}); err != nil {
		t.Fatal(err)
	}
	input := func(loc string) *types.TableInput {
		return &types.TableInput{Name: aws.String("events"), Parameters: map[string]string{"metadata_location": loc}}
	}
	if _, err := cli.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String("lake"), TableInput: input("v0")}); err != nil {
		t.Fatal(err)
	}
	got, err := cli.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String("lake"), Name: aws.String("events")})
	if err != nil {
		t.Fatal(err)
	}
	stale := got.Table.VersionId
	if aws.ToString(stale) == "" {
		t.Fatal("GetTable returned no VersionId")
	}
	update := func(loc string) error {
		_, err := cli.UpdateTable(ctx, &glue.UpdateTableInput{DatabaseName: aws.String("lake"), TableInput: input(loc), VersionId: stale})
		return err
	}
	if err := update("v1-first"); err != nil {
		t.Fatalf("first UpdateTable on version %s: %v", aws.ToString(stale), err)
	}
	err = update("v1-second")
	var cme *types.ConcurrentModificationException
	if !errors.As(err, &cme) {
		t.Fatalf("second UpdateTable on stale version %s: got %v, want ConcurrentModificationException (is the launcher's Glue patch active?)", aws.ToString(stale), err)
	}
	got, err = cli.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String("lake"), Name: aws.String("events")})
	if err != nil {
		t.Fatal(err)
	}
	if loc := got.Table.Parameters["metadata_location"]; loc != "v1-first" {
		t.Fatalf("metadata_location = %q, want the first writer's v1-first", loc)
	}
	// Without VersionId an update is unconditional, as on Glue.
	if _, err := cli.UpdateTable(ctx, &glue.UpdateTableInput{DatabaseName: aws.String("lake"), TableInput: input("v2")}); err != nil {
		t.Fatalf("UpdateTable without VersionId: %v", err)
	}
}
