// Command load is the load Lambda: it commits a run's staged parts,
// finalizes the run (manifest, the success marker, metrics) and records
// failures.
package main

import (
	"github.com/sluice-etl/sluice/shared/adapter/metrics/dynamometrics"
	"github.com/sluice-etl/sluice/shared/handler"
	"github.com/sluice-etl/sluice/shared/handler/invoker"
)

func main() {
	handler.Main("load", func(env *handler.Env) any {
		d := env.Deps
		d.Metrics = dynamometrics.New(env.DynamoDB(), env.Settings.MetricsTable)
		d.Tables, d.Lakes, d.Catalogs = env.Tables, invoker.Lakes(env), invoker.Catalogs(env)
		return handler.NewLoader(env.Settings, d).Handle
	})
}
